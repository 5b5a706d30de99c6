import type { ContenderId, Setup } from './contenders'

/** Messages between the runner and its worker processes (scenarios 4 and 5). */
export type Command =
  | { type: 'setup'; contender: ContenderId; setup: Setup }
  | {
      type: 'stampede'
      key: string
      callers: number
      loaderMs: number
      /** Epoch ms at which every process fires its callers. */
      at: number
    }
  | { type: 'fill'; key: string; loaderMs: number }
  | {
      type: 'expiring'
      key: string
      callers: number
      intervalMs: number
      durationMs: number
      loaderMs: number
      /** A call at least this slow waited for a loader. */
      blockedMs: number
      at: number
    }
  | { type: 'teardown' }

export interface StampedeResult {
  loaderCalls: number
  latenciesMs: number[]
  errors: number
  wrong: number
  /** Unhandled rejections the worker has seen so far (background work failing after close). */
  unhandled: number
}

export interface ExpiringResult {
  loaderCalls: number
  calls: number
  /** Calls of blockedMs or more that no whole-process stall explains: they waited for a loader. */
  blocked: number
  /** Slow calls that overlapped a stall of the whole process (GC, CPU taken by others). */
  stalled: number
  /** Longest event-loop stall seen by this process during the run (ms). */
  maxStallMs: number
  latenciesMs: number[]
  errors: number
  wrong: number
  /** Unhandled rejections the worker has seen so far (background work failing after close). */
  unhandled: number
}

export type Request = Command & { id: number }
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }
export type Hello = { type: 'ready'; pid: number }
