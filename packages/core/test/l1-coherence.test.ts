import {
  type RedisServer,
  sharedRedis,
  startRedis,
  uniqueKey,
  uniquePrefix,
  waitUntil,
} from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../src/index'
import { ensureCoreBuilt, type Peer, startPeer } from './peers/peer'

/** At most 1 s for a change in one process to reach another's L1 (issue 5). */
const seen = (what: string, check: () => Promise<boolean>) =>
  waitUntil(what, async () => (await check()) || 'not yet', { timeoutMs: 1_000, intervalMs: 20 })

const readyBus = (cache: Cache) =>
  new Promise<void>((resolve) => {
    cache.once('bus:ready', () => resolve())
  })

beforeAll(() => {
  ensureCoreBuilt()
}, 120_000)

describe('two processes with L1 stay coherent through the bus', () => {
  let a: Peer
  let b: Cache
  const prefix = uniquePrefix()
  beforeAll(async () => {
    const opts = { redis: sharedRedis().url, prefix, l1: { max: 1000 }, ttl: '1m' }
    b = createCache(opts)
    const ready = readyBus(b)
    a = await startPeer(opts)
    await ready
  })
  afterAll(async () => {
    await a.close()
    await b.close()
  })

  const warmInA = async (key: string, value: string, options?: Record<string, unknown>) => {
    expect(await a.call('getOrSet', { key, value, options })).toBe(value)
    const before = (await a.stats()).l1
    // A tagged entry becomes an L1 hit once its tag times are known in-process (fetched in
    // the background after the first fill): read until A serves it from L1.
    for (let i = 0; i < 20 && (await a.stats()).l1 === before; i++) {
      expect(await a.call('getOrSet', { key, value: 'never', options })).toBe(value)
    }
    // A served it from L1: the change below must reach A's L1, not just Redis.
    expect((await a.stats()).l1).toBeGreaterThan(before)
  }

  it('sees a set from another process', async () => {
    const key = uniqueKey('set')
    await warmInA(key, 'v1')
    await b.set(key, 'v2')
    await seen('A to see v2', async () => (await a.call('get', { key })) === 'v2')
  })

  it('sees a delete from another process', async () => {
    const key = uniqueKey('del')
    await warmInA(key, 'v1')
    await b.delete(key)
    await seen('A to see the delete', async () => (await a.call('get', { key })) === null)
  })

  it('sees an expire from another process', async () => {
    const key = uniqueKey('exp')
    await warmInA(key, 'v1')
    await b.expire(key)
    await seen('A to stop serving it fresh', async () => (await a.call('get', { key })) === null)
  })

  it('sees a tag invalidation from another process', async () => {
    const key = uniqueKey('tag')
    await warmInA(key, 'v1', { tags: ['users'] })
    await b.invalidateTags('users')
    await seen(
      'A to reload',
      async () => (await a.call('getOrSet', { key, value: 'v2', options: { tags: ['users'] } })) === 'v2',
    )
  })
})

describe('subscriber connection killed', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedis()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('never serves the old value after reconnecting (CLIENT KILL TYPE pubsub during a write)', async () => {
    const opts = { redis: server.url, prefix: uniquePrefix(), l1: { max: 100 }, ttl: '1m' }
    const a = await startPeer(opts)
    const b = createCache(opts)
    const admin = new Redis(server.url)
    try {
      await readyBus(b)
      const key = uniqueKey('kill')
      await a.call('getOrSet', { key, value: 'old' })
      expect(await a.call('getOrSet', { key, value: 'x' })).toBe('old')
      expect((await a.stats()).l1Size).toBe(1)
      const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))
      expect(killed).toBeGreaterThanOrEqual(1)
      await b.set(key, 'new')
      await waitUntil('A to resubscribe', async () => (await a.stats()).reconnected > 0 || 'still down', {
        timeoutMs: 10_000,
      })
      expect(await a.call('get', { key })).toBe('new')
      expect(await a.call('getOrSet', { key, value: 'x' })).toBe('new')
    } finally {
      await a.close()
      await b.close()
      await admin.quit()
    }
  })
})

describe('bus authenticity', () => {
  it('drops garbage, unsigned, forged and replayed messages and keeps working', async () => {
    const prefix = uniquePrefix()
    const signingKey = 'k'.repeat(32)
    const opts = { redis: sharedRedis().url, prefix, l1: { max: 100 }, bus: { signingKey } }
    const a = createCache(opts)
    const b = createCache(opts)
    const forger = createCache({ ...opts, bus: { signingKey: 'x'.repeat(32) } })
    const raw = new Redis(sharedRedis().url)
    const reasons: string[] = []
    a.on('bus:rejected', (e) => reasons.push(e.reason))
    try {
      await Promise.all([readyBus(a), readyBus(b), readyBus(forger)])
      const key = uniqueKey('auth')
      await a.getOrSet(key, () => 'v1')
      const channel = `${prefix}:bus`
      const { encodeBusMessage } = await import('../src/bus/codec')
      const k = a.entryKey(key)
      await raw.publish(channel, Buffer.from('garbage \x00\xff'))
      await raw.publish(
        channel,
        encodeBusMessage({ sender: 'evil', type: 'del', keys: [k], time: Date.now() }, undefined),
      )
      await raw.publish(
        channel,
        encodeBusMessage(
          { sender: 'evil', type: 'del', keys: [k], time: Date.now() - 3_600_000 },
          Buffer.from(signingKey),
        ),
      )
      await forger.delete(uniqueKey('unrelated'))
      await waitUntil('four rejections', () => reasons.length >= 4 || `${reasons.length}`, {
        timeoutMs: 2_000,
      })
      expect(reasons.sort()).toEqual(['bad-signature', 'malformed', 'replayed', 'unsigned'])
      // Nothing forged touched A's L1 ...
      expect(await a.getOrSet(key, () => 'never')).toBe('v1')
      // ... and a genuine message still gets through.
      await b.set(key, 'v2')
      await seen('A to see v2', async () => (await a.get(key)) === 'v2')
    } finally {
      await Promise.all([a.close(), b.close(), forger.close(), raw.quit()])
    }
  })
})

describe('getOrSetMany', () => {
  it('loads the 50 misses of 100 keys with one batch loader call', async () => {
    const cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix() })
    try {
      const keys = Array.from({ length: 100 }, (_, i) => uniqueKey(`m${i}`))
      await Promise.all(keys.slice(0, 50).map((k) => cache.set(k, `cached:${k}`)))
      const calls: string[][] = []
      const values = await cache.getOrSetMany(keys, (missing) => {
        calls.push(missing)
        return missing.map((k) => `loaded:${k}`)
      })
      expect(calls).toHaveLength(1)
      expect(calls[0]?.sort()).toEqual(keys.slice(50).sort())
      expect(values).toEqual(keys.map((k, i) => (i < 50 ? `cached:${k}` : `loaded:${k}`)))
      expect(await cache.getMany(keys.slice(45, 55))).toEqual(values.slice(45, 55))
    } finally {
      await cache.close()
    }
  })
})
