import { type Cache, createCache } from '@herdless/core'
import { keySlot } from '@herdless/core/tools'
import {
  type NodeInfo,
  type RedisCluster,
  redisCommand,
  sleep,
  startCluster,
  uniquePrefix,
  waitUntil,
} from '@herdless/test-utils'
import { Cluster } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { Load, pass, report, watchTopology } from './load'

/**
 * Chaos on a live 3+3 cluster under steady getOrSet load. Each scenario starts its own cluster
 * (it kills, stops or reshards nodes), counts what the callers saw and prints the counts.
 * Fail-open is the contract: Redis trouble never reaches a caller as a thrown error.
 */

const until = (what: string, check: () => boolean, timeoutMs = 20_000) =>
  waitUntil(what, () => check() || 'not yet', { timeoutMs, intervalMs: 20 })

const inRanges = (slot: number, ranges: ReadonlyArray<readonly [number, number]>) =>
  ranges.some(([a, b]) => slot >= a && slot <= b)

const keysFor = (n: number) => Array.from({ length: n }, (_, i) => `item:${i}`)

/** Every write acknowledged by a replica, so a promoted replica holds all of them. */
async function replicated(cluster: RedisCluster): Promise<void> {
  for (const p of await cluster.primaries()) await redisCommand(p.port, ['WAIT', 1, 5_000])
}

/**
 * Wait (bounded) until a read is an L2 hit again: after an outage the circuit breaker may still
 * be open for up to its cooldown, serving from the loader until one probe succeeds.
 */
async function servedFromRedis(cache: Cache, keys: readonly string[]): Promise<void> {
  await waitUntil(
    'reads served from Redis again',
    async () => (await pass(cache, keys.slice(0, 1))).hits === 1 || 'miss',
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  )
}

async function shard(cluster: RedisCluster): Promise<{ primary: NodeInfo; replica: NodeInfo }> {
  const [primary] = await cluster.primaries()
  const replica = (await cluster.replicas()).find((r) => r.primaryId === primary?.id)
  if (primary === undefined || replica === undefined) throw new Error('no primary with a replica')
  return { primary, replica }
}

let cluster: RedisCluster | undefined
let cache: Cache | undefined
afterEach(async () => {
  await cache?.close()
  await cluster?.stop()
  cache = undefined
  cluster = undefined
})

function clusterCache(c: RedisCluster): Cache {
  return createCache({
    redis: { cluster: c.startupNodes },
    prefix: uniquePrefix(),
    topology: { pollInterval: 200 },
  })
}

describe('chaos on a private 3+3 cluster', () => {
  it('kill a primary: its replica takes over, callers see no error, values come from Redis again', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    const topo = watchTopology(cache)
    const keys = keysFor(600)
    expect((await pass(cache, keys)).loads).toBe(keys.length)
    await replicated(cluster)
    const { primary } = await shard(cluster)
    const c = cache
    const groupOf = (k: string) =>
      inRanges(keySlot(c.entryKey(k)), primary.slots) ? 'killed-shard' : 'other-shards'

    const load = new Load(cache, { keys, maxRequests: 40_000, maxMs: 25_000, groupOf })
    await sleep(500)
    topo.mark('kill primary')
    await cluster.killNode(primary.id)
    await until('the monitor to see the outage', () => topo.degraded >= 1)
    await until('the monitor to see the failover', () => topo.recovered >= 1)
    await sleep(1_000)
    await load.stop()
    report('kill a primary', load)
    console.info(`[chaos] monitor: ${topo.log.join(' | ')}`)

    const all = load.count()
    expect(load.errorsSeen).toEqual([])
    expect(all.errors).toBe(0)
    expect(all.wrong).toBe(0)
    expect(all.requests).toBeGreaterThan(1_000)
    // The outage was real: some requests on the killed shard fell back to the loader.
    expect(load.count('killed-shard').errorEvents).toBeGreaterThan(0)
    // After recovery every entry written before the kill is served from Redis (the promoted replica).
    await servedFromRedis(cache, keys)
    const after = await pass(cache, keys)
    expect(after).toEqual({ loads: 0, hits: keys.length })
  })

  it('reshard 3000 slots during load: no errors, no lost entries, one shared slot refresh per MOVED burst', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    const keys = keysFor(2_000)
    expect((await pass(cache, keys)).loads).toBe(keys.length)
    const [from, to] = await cluster.primaries()
    if (from === undefined || to === undefined) throw new Error('need two primaries')

    const load = new Load(cache, { keys, maxRequests: 100_000, maxMs: 60_000 })
    const result = await cluster.reshard({ from: from.id, to: to.id, slots: 3_000 })
    await load.stop()
    report(`reshard ${result.slots.length} slots (${result.keys} keys moved)`, load)

    const all = load.count()
    expect(load.errorsSeen).toEqual([])
    expect(all.errors).toBe(0)
    expect(all.wrong).toBe(0)
    expect(result.keys).toBeGreaterThan(100)
    // MOVED and ASK were followed: Redis kept answering, the loader was (nearly) never needed.
    expect(all.loaderCalls).toBeLessThanOrEqual(Math.ceil(all.requests / 100))
    // Zero lost entries: every key written before is still in Redis and readable.
    const fresh = new Cluster(cluster.startupNodes)
    try {
      const c = cache
      const present = await Promise.all(keys.map((k) => fresh.exists(c.entryKey(k))))
      expect(present.filter((n) => n === 1)).toHaveLength(keys.length)
    } finally {
      fresh.disconnect()
    }
    await servedFromRedis(cache, keys)
    expect(await pass(cache, keys)).toEqual({ loads: 0, hits: keys.length })

    // A burst of MOVED (a client with a stale slot map) costs one CLUSTER SLOTS, not one per caller.
    const other = createCache({ redis: { cluster: cluster.startupNodes }, prefix: cache.prefix })
    try {
      await pass(other, keys.slice(0, 50)) // connected, slot map loaded
      const moving = await cluster.reshard({ from: to.id, to: from.id, slots: 50 })
      const c = cache
      const burst = keys.filter((k) => moving.slots.includes(keySlot(c.entryKey(k))))
      expect(burst.length).toBeGreaterThan(3)
      const slotsCalls = async () => {
        const counts = await Promise.all(
          cluster?.startupNodes.map(async (n) => {
            const text = String(await redisCommand(n.port, ['INFO', 'commandstats']))
            return Number(/cmdstat_cluster\|slots:calls=(\d+)/.exec(text)?.[1] ?? 0)
          }) ?? [],
        )
        return counts.reduce((a, b) => a + b, 0)
      }
      const before = await slotsCalls()
      const callers = 200
      const values = await Promise.all(
        Array.from({ length: callers }, (_, i) => {
          const k = burst[i % burst.length] ?? ''
          return other.getOrSet(k, () => 'loaded')
        }),
      )
      // The refresh runs beside the retried commands: wait for it, then for any stragglers.
      await waitUntil('a slot refresh', async () => (await slotsCalls()) > before || 'none yet', {
        timeoutMs: 5_000,
      })
      await sleep(300)
      const refreshes = (await slotsCalls()) - before
      console.info(
        `[chaos] MOVED burst: ${callers} concurrent callers over ${burst.length} moved keys -> ${refreshes} CLUSTER SLOTS`,
      )
      expect(values.every((v, i) => v === `v:${burst[i % burst.length]}`)).toBe(true)
      expect(refreshes).toBeGreaterThanOrEqual(1)
      expect(refreshes).toBeLessThanOrEqual(2)
    } finally {
      await other.close()
    }
  })

  it('stop a whole shard: keys on the other shards stay hits, its keys fall back to the loader', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    // The engine's circuit breaker is one for the whole cluster: failures on the dead shard open
    // it for every shard. A second cache without the breaker, under the same load at the same
    // time, shows what the cluster client and the engine do on their own (see the report).
    const plain = createCache({
      redis: { cluster: cluster.startupNodes },
      prefix: cache.prefix,
      breaker: false,
    })
    const topo = watchTopology(cache)
    const keys = keysFor(600)
    expect((await pass(cache, keys)).loads).toBe(keys.length)
    const { primary, replica } = await shard(cluster)
    const c = cache
    const groupOf = (k: string) =>
      inRanges(keySlot(c.entryKey(k)), primary.slots) ? 'dead-shard' : 'live-shards'

    const bounds = { keys, callers: 4, maxRequests: 20_000, maxMs: 25_000, groupOf }
    const load = new Load(cache, bounds)
    // Without a breaker a dead-shard request waits out three redisTimeouts (GET, lock, write):
    // more callers keep live-shard traffic flowing beside them.
    const plainLoad = new Load(plain, { ...bounds, callers: 8 })
    try {
      await sleep(300)
      topo.mark('stop shard')
      await Promise.all([cluster.stopNode(primary.id), cluster.stopNode(replica.id)])
      await until('the monitor to see the outage', () => topo.degraded >= 1)
      // The cluster flags the shard FAIL after cluster-node-timeout; from then on it is a steady state.
      await until('slots in FAIL', () => (cache?.topology?.slotsFail ?? 0) > 0)
      await sleep(500)
      load.mark()
      plainLoad.mark()
      await sleep(3_000)
      report('stop a whole shard, default breaker: steady outage window', load, 'phase')
      report('stop a whole shard, breaker: false: steady outage window', plainLoad, 'phase')
    } finally {
      await Promise.all([load.stop(), plainLoad.stop()])
      await plain.close()
    }
    report('stop a whole shard, default breaker', load)
    report('stop a whole shard, breaker: false', plainLoad)
    console.info(`[chaos] monitor: ${topo.log.join(' | ')}`)

    for (const l of [load, plainLoad]) {
      expect(l.errorsSeen).toEqual([])
      expect(l.count().errors).toBe(0)
      expect(l.count().wrong).toBe(0)
      const dead = l.count('dead-shard', 'phase')
      expect(dead.requests).toBeGreaterThan(5)
      // Keys on the dead shard: answered by the loader (fail-open), never from Redis, never a throw.
      expect(dead.hits).toBe(0)
      expect(dead.loaderCalls).toBeGreaterThan(0)
    }
    // Partial availability: every request for a key on a live shard was served by Redis.
    const live = plainLoad.count('live-shards', 'phase')
    expect(live.requests).toBeGreaterThan(20)
    expect(live.loaderCalls).toBe(0)
    expect(live.hits).toBe(live.requests)
    expect(topo.recovered).toBe(0)
  })

  it('restart a stopped shard: its nodes rejoin and the monitor reports recovery', async () => {
    cluster = await startCluster()
    cache = clusterCache(cluster)
    const topo = watchTopology(cache)
    const keys = keysFor(600)
    expect((await pass(cache, keys)).loads).toBe(keys.length)
    await replicated(cluster)
    const { primary, replica } = await shard(cluster)

    const load = new Load(cache, { keys, maxRequests: 40_000, maxMs: 30_000 })
    await sleep(300)
    topo.mark('stop shard')
    await Promise.all([cluster.stopNode(primary.id), cluster.stopNode(replica.id)])
    await until('the monitor to see the outage', () => topo.degraded >= 1)
    await sleep(1_000)
    topo.mark('restart primary')
    await cluster.restartNode(primary.id)
    await until('the monitor to report recovery', () => topo.recovered >= 1)
    await cluster.restartNode(replica.id)
    await until('both nodes back in the snapshot', () => {
      const nodes = cache?.topology?.nodes ?? []
      const p = nodes.find((n) => n.id === primary.id)
      const r = nodes.find((n) => n.id === replica.id)
      return (
        p?.reachable === true && p.role === 'primary' && r?.reachable === true && r.primaryId === primary.id
      )
    })
    await load.stop()
    report('restart a stopped shard', load)
    console.info(`[chaos] monitor: ${topo.log.join(' | ')}`)

    expect(load.errorsSeen).toEqual([])
    expect(load.count().errors).toBe(0)
    expect(load.count().wrong).toBe(0)
    expect(topo.degraded).toBe(1)
    expect(topo.recovered).toBe(1)
    expect(cache.topology?.state).toBe('ok')
    expect(cache.topology?.slotsFail).toBe(0)
    // The restarted shard came back empty (no persistence): one pass refills it, then all hits.
    await servedFromRedis(cache, keys)
    await pass(cache, keys)
    expect(await pass(cache, keys)).toEqual({ loads: 0, hits: keys.length })
  })
})
