import type { Mode } from './types'

/** How long everything runs, per mode. `--quick` must finish (build included) in under 2 minutes. */
export interface Plan {
  /** Throughput scenarios (1-3). */
  warmupMs: number
  roundMs: number
  rounds: number
  concurrency: number
  /** Distinct warm keys; callers walk disjoint subsets so no two in-flight calls share a key. */
  hotKeys: number
  /** Cold-key stampede (4). */
  stampede: { processes: number; callers: number; loaderMs: number; rounds: number }
  /** Expiring hot key (5). */
  expiring: {
    processes: number
    callersPerProcess: number
    intervalMs: number
    ttlMs: number
    loaderMs: number
    durationMs: number
  }
  /** Memory (6). */
  memory: { redisEntries: number; heapEntries: number }
}

export function planFor(mode: Mode): Plan {
  const quick = mode === 'quick'
  return {
    warmupMs: quick ? 200 : 1_000,
    roundMs: quick ? 500 : 1_500,
    rounds: quick ? 2 : 5,
    concurrency: 100,
    hotKeys: 1_000,
    stampede: { processes: 4, callers: 250, loaderMs: 200, rounds: quick ? 2 : 5 },
    expiring: {
      processes: 4,
      callersPerProcess: 20,
      intervalMs: 10,
      ttlMs: 1_000,
      loaderMs: 100,
      durationMs: quick ? 2_000 : 6_000,
    },
    memory: { redisEntries: quick ? 500 : 2_000, heapEntries: quick ? 2_000 : 10_000 },
  }
}
