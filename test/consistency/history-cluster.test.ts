import { type RedisServer, sharedCluster, startRedis } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureCoreDist, runFleet, seeds, verdict } from './harness'

/**
 * The history checker on the run's shared 3+3 cluster: 4 processes, random operations on 4
 * keys, several seeds (each in the test's name: CONSISTENCY_SEED=<seed> reruns one), about 30 s
 * in all (CONSISTENCY_MS per seed). docs/consistency.md is the model.
 */
const MS = Number(process.env.CONSISTENCY_MS ?? 7_000)
const SEEDS = seeds(3)

let db: RedisServer | undefined
beforeAll(async () => {
  await ensureCoreDist()
  db = await startRedis()
}, 180_000)
afterAll(async () => {
  await db?.stop()
})

describe('consistency: recorded history of 4 processes on the 3+3 cluster', () => {
  for (const seed of SEEDS) {
    it(
      `seed ${seed}: no read goes back past a completed invalidation`,
      async () => {
        const run = await runFleet({
          redis: { cluster: sharedCluster().startupNodes },
          db: (db as RedisServer).url,
          seed,
          durationMs: MS,
        })
        const { result, text } = verdict(run, `cluster seed ${seed}`)
        console.log(text)
        expect(result.violations.length, text).toBe(0)
        expect(result.stats.epochsOverBound.length, text).toBe(0)
        // Not vacuous: reads after invalidations that raced a load returning an older value.
        const s = result.stats
        expect(s.checked, text).toBeGreaterThan(MS / 20)
        expect(s.lateOldLoads, text).toBeGreaterThan(MS / 1000)
        expect(s.racyReads, text).toBeGreaterThan(MS / 500)
      },
      MS + 120_000,
    )
  }
})
