/** Messages between bench.ts and its worker processes (worker.ts), over Node's IPC channel. */

/** Part 1: `callers` concurrent getOrSet on one key, once, in each process. */
export interface CallersJob {
  kind: 'callers'
  redis: string
  prefix: string
  key: string
  callers: number
  loaderMs: number
}

export type Strategy = 'cache-aside' | 'set-nx-lock' | 'xfetch' | 'herdless'

/** Part 2: `workers` loops hammering one key until `durationMs` has passed. */
export interface HammerJob {
  kind: 'hammer'
  redis: string
  key: string
  strategy: Strategy
  workers: number
  durationMs: number
  ttlMs: number
  computeMs: number
  thinkMs: number
}

export type Job = CallersJob | HammerJob

export interface CallersResult {
  kind: 'callers'
  /** Per call, ms from the call to its answer. */
  latencies: number[]
  loaderCalls: number
  /** How long each loader run in this process took (ms). */
  loaderDurations: number[]
  /** Epoch ms (performance.timeOrigin based) when each loader run began and ended. */
  loaderSpans: Array<[number, number]>
  /** Epoch ms at which each call was answered. */
  answeredAt: number[]
  errors: number
}

export interface HammerResult {
  kind: 'hammer'
  calls: number
  /** Epoch ms at which each recompute began. */
  computeStarts: number[]
  /** Calls that found no usable value (GET nil, or a Herdless 'miss'). */
  misses: number
  /** Calls that ran a computation or waited for one (see Reader in strategies.ts). */
  blocked: number
  /** Per call, ms. */
  latencies: number[]
  errors: number
}

export type Result = CallersResult | HammerResult

/** `at`: the epoch ms at which every process starts, so that their latencies are comparable. */
export type ToWorker = { type: 'job'; job: Job } | { type: 'go'; at: number }
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; result: Result }
  | { type: 'error'; message: string }
