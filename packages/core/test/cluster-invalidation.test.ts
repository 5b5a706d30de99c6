import { sharedCluster, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { Cluster } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../src/index'
import { ensureCoreBuilt, startPeer } from './peers/peer'

describe('invalidation on the 3+3 cluster', () => {
  let cache: Cache
  let raw: Cluster
  const prefix = uniquePrefix()
  const errors: string[] = []
  beforeAll(() => {
    // A generous redisTimeout: 600 writes at once on a busy 2-core machine passed the default
    // 250 ms, failed open (stored nothing) and the count below came out short (257 of 300).
    cache = createCache({ redis: { cluster: sharedCluster().startupNodes }, prefix, redisTimeout: '5s' })
    cache.on('error', (e) => errors.push(`${e.error.code} ${e.operation}: ${e.error.message}`))
    raw = new Cluster(sharedCluster().startupNodes)
  })
  afterEach(() => {
    // Every count below assumes every command reached Redis: a failed-open one must say so.
    expect(errors.splice(0)).toEqual([])
  })
  afterAll(async () => {
    await cache.close()
    await raw.quit()
  })

  /** Keys of this test's prefix on each primary, counted there directly. */
  const perPrimary = async (match: string) => {
    const counts: number[] = []
    for (const node of raw.nodes('master')) {
      let cursor = '0'
      let n = 0
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000)
        cursor = next
        n += keys.length
      } while (cursor !== '0')
      counts.push(n)
    }
    return counts
  }

  it('invalidatePattern and clear remove keys on all three primaries', async () => {
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        Promise.all([cache.set(`user:${i}`, i), cache.set(`order:${i}`, i)]),
      ),
    )
    const users = await perPrimary(`${prefix}:{user:*}`)
    expect(users).toHaveLength(3)
    expect(users.every((n) => n > 0)).toBe(true)
    expect(users.reduce((a, b) => a + b, 0)).toBe(300)
    expect(await cache.invalidatePattern('user:*')).toBe(300)
    expect(await perPrimary(`${prefix}:{user:*}`)).toEqual([0, 0, 0])
    expect((await perPrimary(`${prefix}:{order:*}`)).reduce((a, b) => a + b, 0)).toBe(300)
    expect(await cache.get('order:7')).toBe(7)
    expect(await cache.clear()).toBeGreaterThanOrEqual(300)
    expect(await perPrimary(`${prefix}:*`)).toEqual([0, 0, 0])
  })

  it('deletes 1,000 keys across slots in one call', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i}`)
    await Promise.all(keys.map((k) => cache.set(k, k)))
    expect(await cache.delete(keys)).toBe(1000)
    expect((await cache.getMany(keys)).filter((v) => v !== undefined)).toHaveLength(0)
  })

  it('delivers sharded bus messages to every process', async () => {
    ensureCoreBuilt()
    const opts = {
      redis: { cluster: sharedCluster().startupNodes },
      prefix: uniquePrefix(),
      l1: { max: 1000 },
      bus: { sharded: true, channels: 8 },
    }
    const a = await startPeer(opts)
    const b = await startPeer(opts)
    const writer = createCache(opts)
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `s:${i}`)
      await Promise.all(keys.map((k) => writer.set(k, 'v1')))
      // Fill both L1s from Redis. A read that failed open under a loaded machine reloads and
      // republishes, evicting the other peer's copy: refill until both hold all 40.
      for (let round = 0; round < 5; round++) {
        for (const key of keys) {
          await a.call('getOrSet', { key, value: 'v1' })
          await b.call('getOrSet', { key, value: 'v1' })
        }
        if ((await a.stats()).l1Size === 40 && (await b.stats()).l1Size === 40) break
      }
      expect((await a.stats()).l1Size).toBe(40)
      expect((await b.stats()).l1Size).toBe(40)
      await Promise.all(keys.map((k) => writer.set(k, 'v2')))
      for (const peer of [a, b]) {
        await waitUntil(
          'every peer to drop all 40 keys from L1',
          async () => (await peer.stats()).l1Size === 0 || `${(await peer.stats()).l1Size} left`,
          { timeoutMs: 1_000, intervalMs: 20 },
        )
        for (const key of keys.slice(0, 5)) expect(await peer.call('get', { key })).toBe('v2')
      }
    } finally {
      await Promise.all([a.close(), b.close(), writer.close()])
    }
  })
})
