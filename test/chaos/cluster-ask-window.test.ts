import { type Cache, createCache } from '@herdless/core'
import { keySlot } from '@herdless/core/tools'
import {
  cliRebalance,
  cliReshard,
  type NodeInfo,
  type RedisCluster,
  startCluster,
  uniquePrefix,
} from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { expectedValue, Load, report } from './load'

/**
 * L2 hits on a 3+3 cluster while slots move (issue 21, ioredis#2075). Herdless batches each
 * tick's commands per node (store/write-coalescer.ts) instead of ioredis auto-pipelining, whose
 * cluster pipelines re-send a batch that met ASK whole, with ASKING, to the importing node, where
 * the keys not yet moved read as null: a false miss. Here many L2 hits across slots run while a
 * slot full of warm keys is half migrated (reads inside the ASK window), after the migration,
 * and during and after `redis-cli --cluster reshard` and `rebalance`. Every key was written
 * before: any miss, loader call, error or wrong value is a failure.
 *
 * The Redis deadline is raised so a slow moment on a busy 2-core machine cannot turn into a
 * timeout (fail-open to the loader) and be mistaken for, or hide, a false miss.
 */

/** One hash tag (`hot`) for many keys: a user key with `}` ends the entry's tag (keys.ts). */
const HOT = Array.from({ length: 120 }, (_, i) => `hot}:${i}`)
const SPREAD = Array.from({ length: 300 }, (_, i) => `k:${i}`)
const ALL = [...HOT, ...SPREAD]

let cluster: RedisCluster | undefined
let cache: Cache | undefined
afterEach(async () => {
  await cache?.close()
  await cluster?.stop()
  cache = undefined
  cluster = undefined
})

interface Seen {
  misses: number
  loads: number
  errors: number
  wrong: number
  errorEvents: string[]
  reads: number
}

function counting(c: Cache): { seen: Seen; burst: (keys: readonly string[]) => Promise<void> } {
  const seen: Seen = { misses: 0, loads: 0, errors: 0, wrong: 0, errorEvents: [], reads: 0 }
  c.on('miss', () => {
    seen.misses++
  })
  c.on('error', (e) => {
    if (seen.errorEvents.length < 5) seen.errorEvents.push(`${e.operation}: ${e.error.message}`)
  })
  // Every key in one tick: one batch per node, mixing the migrating slot with others.
  const burst = async (keys: readonly string[]) => {
    await Promise.all(
      keys.map(async (k) => {
        seen.reads++
        try {
          const v = await c.getOrSet(k, () => {
            seen.loads++
            return 'loaded-again'
          })
          if (v !== expectedValue(k)) seen.wrong++
        } catch {
          seen.errors++
        }
      }),
    )
  }
  return { seen, burst }
}

function ownerOf(slot: number, primaries: readonly NodeInfo[]): NodeInfo {
  const p = primaries.find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b))
  if (p === undefined) throw new Error(`no owner for slot ${slot}`)
  return p
}

/** Keys matching `pattern` on every primary, asked of each node directly. */
async function keysOnPrimaries(c: RedisCluster, pattern: string): Promise<string[]> {
  const found: string[] = []
  for (const p of await c.primaries()) {
    const node = new Redis(p.port, p.host)
    try {
      found.push(...(await node.keys(pattern)))
    } finally {
      node.disconnect()
    }
  }
  return found.sort()
}

function clusterCache(c: RedisCluster): Cache {
  return createCache({
    redis: { cluster: c.startupNodes },
    prefix: uniquePrefix(),
    ttl: '1h',
    l1: false, // every hit is an L2 read
    redisTimeout: '5s',
  })
}

async function warm(c: Cache): Promise<void> {
  for (let i = 0; i < ALL.length; i += 100) {
    await Promise.all(ALL.slice(i, i + 100).map((k) => c.set(k, expectedValue(k))))
  }
}

const clean = (s: Seen) => ({
  misses: s.misses,
  loads: s.loads,
  errors: s.errors,
  wrong: s.wrong,
  errorEvents: s.errorEvents,
})
const CLEAN = { misses: 0, loads: 0, errors: 0, wrong: 0, errorEvents: [] }

describe('L2 hits on a 3+3 cluster while slots migrate', () => {
  it('reads inside the ASK window and after the migration: no false miss, error or wrong value', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    await warm(cache)
    const { seen, burst } = counting(cache)
    await burst(ALL) // connected, slot map loaded, all hits
    expect(clean(seen)).toEqual(CLEAN)

    const hotSlot = keySlot(cache.entryKey(HOT[0] as string))
    expect(new Set(HOT.map((k) => keySlot(cache?.entryKey(k) ?? '')))).toEqual(new Set([hotSlot]))
    const primaries = await cluster.primaries()
    const from = ownerOf(hotSlot, primaries)
    const to = primaries.find((p) => p.id !== from.id) as NodeInfo
    let windows = 0
    const moved = await cluster.reshard({
      from: from.id,
      to: to.id,
      slots: [hotSlot],
      batchSize: 10,
      onBatch: async ({ remainingKeys }) => {
        if (remainingKeys === 0) return
        windows++
        // Half the slot's keys on each side: a batch to the source meets ASK for some.
        await burst(ALL)
        await burst(HOT)
      },
    })
    expect(moved.keys).toBe(HOT.length)
    expect(windows).toBeGreaterThanOrEqual(5)
    const during = { ...clean(seen), reads: seen.reads }
    console.info(`[ask-window] ${windows} ASK windows, ${during.reads} reads: ${JSON.stringify(during)}`)
    expect(clean(seen)).toEqual(CLEAN)

    // After: the client's slot map is stale for the moved slot (MOVED), then refreshed.
    for (let i = 0; i < 3; i++) await burst(ALL)
    expect(clean(seen)).toEqual(CLEAN)
  })

  it('invalidatePattern inside the ASK window deletes every matching key, and fences a load in flight', async () => {
    // SCAN finds the moved keys on the importing node, which answers a plain UNLINK with MOVED:
    // those deletions failed silently (the entries and a lease survived, so the fenced load's old
    // value was stored after the pattern completed). The seen-in-soak bug, on purpose here.
    cluster = await startCluster()
    cache = clusterCache(cluster)
    await warm(cache)
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
    const c = cache
    let release: (v: string) => void = () => {}
    let started: () => void = () => {}
    const holding = new Promise<void>((r) => {
      started = r
    })
    // A cold key of the hot slot, loading (its lease in the slot) across the whole migration.
    const inFlight = c.getOrSet('hot}:cold', () => {
      started()
      return new Promise<string>((r) => {
        release = r
      })
    })
    await holding
    const hotSlot = keySlot(c.entryKey(HOT[0] as string))
    const primaries = await cluster.primaries()
    const from = ownerOf(hotSlot, primaries)
    const to = primaries.find((p) => p.id !== from.id) as NodeInfo
    let deleted = -1
    let remainingAtPattern = -1
    await cluster.reshard({
      from: from.id,
      to: to.id,
      slots: [hotSlot],
      batchSize: 10,
      onBatch: async ({ remainingKeys }) => {
        if (deleted !== -1 || remainingKeys > HOT.length / 2) return
        remainingAtPattern = remainingKeys
        deleted = await c.invalidatePattern('hot}*')
      },
    })
    // The pattern ran with keys of the slot on both sides.
    expect(remainingAtPattern).toBeGreaterThan(0)
    expect(errors).toEqual([])
    expect(deleted).toBe(HOT.length)
    release('old')
    expect(await inFlight).toBe('old')
    // Nothing of the pattern is left on any node (entries and the lease), and the load that
    // began before it stored nothing.
    expect(await keysOnPrimaries(cluster, '*{hot}*')).toEqual([])
    const after = await c.getOrSetResult('hot}:cold', () => 'new')
    expect(after).toEqual({ value: 'new', source: 'loader' })
  })

  it('during and after redis-cli --cluster reshard and rebalance: no false miss, error or wrong value', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    await warm(cache)
    const { seen, burst } = counting(cache)
    await burst(ALL)
    expect(clean(seen)).toEqual(CLEAN)

    const load = new Load(cache, {
      keys: ALL,
      callers: 50,
      pauseMs: 0,
      maxRequests: 2_000_000,
      maxMs: 90_000,
    })
    const [target] = await cluster.primaries()
    if (target === undefined) throw new Error('no primary')
    const anyPort = cluster.startupNodes[0]?.port as number
    await cliReshard(anyPort, target.id, 600)
    await burst(ALL)
    await cluster.waitForHealthy() // redis-cli refuses to rebalance before every node agrees
    await cliRebalance(anyPort)
    await load.stop()
    report('redis-cli reshard 600 slots, then rebalance', load)
    for (let i = 0; i < 2; i++) await burst(ALL)

    const all = load.count()
    expect(load.errorsSeen).toEqual([])
    expect({ errors: all.errors, wrong: all.wrong, loaderCalls: all.loaderCalls }).toEqual({
      errors: 0,
      wrong: 0,
      loaderCalls: 0,
    })
    expect(all.errorEvents).toBe(0)
    expect(all.requests).toBeGreaterThan(1_000)
    expect(clean(seen)).toEqual(CLEAN)
  })
})
