import { sharedCluster, sharedRedis, sleep, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { Redis as Valkey, Cluster as ValkeyCluster } from 'iovalkey'
import { createCluster } from 'redis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache, isCacheError } from '../src/index'

/*
 * The compatibility table's other columns (README): the sharded bus on each client's cluster,
 * and redlock over each ioredis-family client. Counts and values only.
 */

const caches: Cache[] = []
const errors: unknown[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
  expect(errors.splice(0)).toEqual([])
})
function cache(options: CacheOptions): Cache {
  const c = createCache({ jitter: 0, redisTimeout: '2s', ...options })
  c.on('error', (e) => errors.push(e.error))
  caches.push(c)
  return c
}

/** B's delete reaches A's L1 over the sharded bus (8 channels over the 3 shards). */
async function shardedDelete(redisA: CacheOptions['redis'], redisB: CacheOptions['redis']): Promise<void> {
  const prefix = uniquePrefix()
  const bus = { sharded: true, channels: 8 }
  const a = cache({ redis: redisA, prefix, l1: { max: 100 }, bus })
  const b = cache({ redis: redisB, prefix, l1: { max: 100 }, bus })
  await Promise.all([a, b].map((c) => new Promise<void>((r) => c.once('bus:ready', () => r()))))
  let l1Hits = 0
  a.on('hit', (e) => {
    if (e.tier === 'l1') l1Hits++
  })
  // Keys over several channels (and so several shards).
  const keys = Array.from({ length: 6 }, () => uniqueKey('sh'))
  for (const key of keys) {
    await b.set(key, 'v1')
    await waitUntil('A to read v1', async () => (await a.get(key)) === 'v1' || 'not yet', {
      timeoutMs: 2_000,
    })
    // Read until A answers from its L1: then only the bus can drop the entry there.
    const before = l1Hits
    for (let i = 0; i < 20 && l1Hits === before; i++) expect(await a.get(key)).toBe('v1')
    expect(l1Hits).toBeGreaterThan(before)
  }
  await b.delete(keys)
  for (const key of keys) {
    await waitUntil('A to see the delete', async () => (await a.get(key)) === undefined || 'still there', {
      timeoutMs: 1_000,
      intervalMs: 20,
    })
  }
}

describe('sharded bus on a cluster', () => {
  it('ioredis 6 Cluster instances', async () => {
    const [x, y] = [new Cluster6(sharedCluster().startupNodes), new Cluster6(sharedCluster().startupNodes)]
    try {
      await shardedDelete(x, y)
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()))
      await Promise.all([x.quit(), y.quit()])
    }
  })

  it('iovalkey 0.4 Cluster: refused with E_INVALID_OPTION (its Cluster cannot hold sharded subscriptions)', async () => {
    const x = new ValkeyCluster(sharedCluster().startupNodes)
    try {
      let caught: unknown
      try {
        createCache({ redis: x, bus: { sharded: true } })
      } catch (e) {
        caught = e
      }
      expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
      expect((caught as Error).message).toMatch(/bus\.sharded/)
      // The same client without sharding carries the bus (classic Pub/Sub).
      const a = cache({ redis: x, prefix: uniquePrefix(), l1: { max: 10 } })
      await new Promise<void>((r) => a.once('bus:ready', () => r()))
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()))
      await x.quit()
    }
  })

  it('node-redis 5 createCluster instances', async () => {
    const connect = async () => {
      const c = createCluster({
        rootNodes: sharedCluster().startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
      })
      c.on('error', () => {})
      await c.connect()
      return c
    }
    const [x, y] = await Promise.all([connect(), connect()])
    try {
      await shardedDelete(x, y)
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()))
      await Promise.all([x.close(), y.close()])
    }
  })
})

describe('redlock over ioredis-family lock clients', () => {
  const lockClients = { ioredis6: new Redis6(sharedRedis().url), iovalkey: new Valkey(sharedRedis().url) }
  afterAll(async () => {
    await Promise.all(Object.values(lockClients).map((c) => c.quit()))
  })

  for (const name of ['ioredis6', 'iovalkey'] as const) {
    it(`${name}: 2 caches x 50 callers on a cold key run the loader once`, async () => {
      const prefix = uniquePrefix()
      const lock = { strategy: 'redlock' as const, clients: [lockClients[name]] }
      const a = cache({ redis: sharedRedis().url, prefix, lock })
      const b = cache({ redis: sharedRedis().url, prefix, lock })
      const key = uniqueKey('rl')
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(150)
        return calls
      }
      const got = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).getOrSet(key, loader)),
      )
      expect(calls).toBe(1)
      expect(got.every((v) => v === 1)).toBe(true)
    })
  }
})
