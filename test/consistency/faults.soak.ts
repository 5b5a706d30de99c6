import { setTimeout as sleep } from 'node:timers/promises'
import { keySlot } from '@herdless/core/tools'
import {
  type RedisCluster,
  type RedisServer,
  redisCommand,
  startCluster,
  startRedis,
} from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fault } from './checker'
import { clock, ensureCoreDist, KEYS, runFleet, seeds, verdict } from './harness'

/**
 * `pnpm soak:consistency`: the history checker under faults, longer. Not part of `pnpm test`
 * (run through test/consistency/vitest.soak.config.ts by scripts/soak-consistency.mjs).
 *
 * SOAK_MS per topology (default 150 s each, so 5 min for both; at most 30 min), SOAK_TOPOLOGY
 * (standalone | cluster | both), CONSISTENCY_SEED, SOAK_SHARDED=1 (sharded Pub/Sub bus on the
 * cluster).
 *
 * Faults, one every few seconds in turn:
 * - standalone: CLIENT KILL TYPE pubsub (every bus subscriber drops), Redis killed and restarted
 *   (empty: no persistence);
 * - cluster: CLIENT KILL TYPE pubsub on every node, a primary SIGKILLed (its replica takes over;
 *   it rejoins as a replica), a reshard of the slots holding the checked keys.
 * An invalidation that met a Redis error proves nothing (the checker leaves it out); one that
 * completed while a restart or failover was under way neither (with asynchronous replication a
 * write the old primary acknowledged may be lost: Redis's limit, not the cache's). Bus drops
 * and reshards exclude nothing: the model holds through them.
 */
const MS = Math.min(Number(process.env.SOAK_MS ?? 150_000), 30 * 60_000)
const TOPOLOGY = process.env.SOAK_TOPOLOGY ?? 'both'
const SEED = seeds(1)[0] as number
const PAUSE_MS = 4_000

let db: RedisServer | undefined
beforeAll(async () => {
  await ensureCoreDist()
  db = await startRedis()
}, 180_000)
afterAll(async () => {
  await db?.stop()
})

async function timed(name: string, exclude: boolean, fn: () => Promise<unknown>): Promise<Fault> {
  const start = clock()
  try {
    await fn()
    return { name, start, end: clock(), exclude }
  } catch (err) {
    return { name: `${name} (failed: ${String(err).slice(0, 80)})`, start, end: clock(), exclude: true }
  }
}

describe.runIf(TOPOLOGY === 'both' || TOPOLOGY === 'standalone')('soak: standalone Redis with faults', () => {
  let redis: RedisServer | undefined
  afterAll(async () => {
    await redis?.stop()
  })
  it(
    `seed ${SEED}: 0 violations through bus drops and Redis restarts`,
    async () => {
      redis = await startRedis()
      const server = redis
      const run = await runFleet({
        redis: server.url,
        db: (db as RedisServer).url,
        seed: SEED,
        durationMs: MS + 60_000,
        faults: async () => {
          const faults: Fault[] = []
          const until = Date.now() + MS
          for (let i = 0; Date.now() < until; i++) {
            await sleep(PAUSE_MS)
            if (i % 2 === 0) {
              faults.push(
                await timed('pubsub kill', false, () =>
                  redisCommand(server.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub']),
                ),
              )
            } else {
              faults.push(
                await timed('redis restart', true, async () => {
                  await server.kill()
                  await sleep(300)
                  await server.restart()
                }),
              )
            }
          }
          await sleep(PAUSE_MS)
          return faults
        },
      })
      const { result, text } = verdict(run, `soak standalone seed ${SEED}`)
      console.log(text)
      expect(result.violations.length, text).toBe(0)
      expect(result.stats.checked, text).toBeGreaterThan(0)
    },
    MS + 300_000,
  )
})

describe.runIf(TOPOLOGY === 'both' || TOPOLOGY === 'cluster')('soak: 3+3 cluster with faults', () => {
  let cluster: RedisCluster | undefined
  afterAll(async () => {
    await cluster?.stop()
  })
  it(
    `seed ${SEED}: 0 violations through bus drops, a primary kill and reshards`,
    async () => {
      cluster = await startCluster()
      const c = cluster
      const slots = [...new Set(KEYS.map((k) => keySlot(`{${k}}`)))]
      const run = await runFleet({
        redis: { cluster: c.startupNodes },
        db: (db as RedisServer).url,
        seed: SEED,
        durationMs: MS + 120_000,
        sharded: process.env.SOAK_SHARDED === '1',
        faults: async () => {
          const faults: Fault[] = []
          const until = Date.now() + MS
          for (let i = 0; Date.now() < until; i++) {
            await sleep(PAUSE_MS)
            const kind = i % 3
            if (kind === 0) {
              faults.push(
                await timed('pubsub kill', false, async () => {
                  for (const n of await c.nodes()) {
                    if (n.alive) await redisCommand(n.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub'])
                  }
                }),
              )
            } else if (kind === 1) {
              const primary = (await c.primaries())[i % 3]
              if (primary === undefined) continue
              const f = await timed('primary kill', true, async () => {
                await c.killNode(primary)
                await c.waitForHealthy({ timeoutMs: 30_000 })
              })
              // Async replication: what the old primary acknowledged just before it died may be lost.
              faults.push({ ...f, start: f.start - 1_000 })
              faults.push(await timed('node rejoin', true, () => c.restartNode(primary)))
            } else {
              faults.push(
                await timed('reshard', false, async () => {
                  const primaries = await c.primaries()
                  const slot = slots[i % slots.length] as number
                  const from = primaries.find((p) => p.slots.some(([a, b]) => slot >= a && slot <= b))
                  const to = primaries.find((p) => p !== from)
                  if (from === undefined || to === undefined) return
                  await c.reshard({ from, to, slots: [slot] })
                }),
              )
            }
          }
          await sleep(PAUSE_MS)
          return faults
        },
      })
      const { result, text } = verdict(run, `soak cluster seed ${SEED}`)
      console.log(text)
      expect(result.violations.length, text).toBe(0)
      expect(result.stats.checked, text).toBeGreaterThan(0)
    },
    MS + 400_000,
  )
})
