import { type RedisServer, startRedis, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeBusMessage } from '../src/bus/codec'
import { type Cache, createCache } from '../src/index'

/**
 * Bus health is judged end to end (heartbeats and per-sender sequence numbers), never from the
 * client's connection events: a lost message, a silently re-subscribed or dead subscription, or a
 * peer that stopped talking makes L1 unknown (dropped, reads go to Redis) until the bus is whole.
 */

const ready = (cache: Cache) => new Promise<void>((resolve) => cache.once('bus:ready', () => resolve()))

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
}, 30_000)
afterAll(async () => {
  await redis.stop()
})

describe('bus health', () => {
  const make = (prefix: string) =>
    createCache({ redis: redis.url, prefix, l1: { max: 100 }, bus: { healthWindow: '400ms' } })

  it('a sequence gap from a peer drops L1 at once, and L1 serves again once the bus is whole', async () => {
    const prefix = uniquePrefix()
    const cache = make(prefix)
    const raw = new Redis(redis.url)
    const events: string[] = []
    cache.on('bus:unhealthy', (e) => events.push(e.reason))
    let l1 = 0
    cache.on('hit', (e) => {
      if (e.tier === 'l1') l1++
    })
    try {
      await ready(cache)
      const key = uniqueKey('gap')
      await cache.getOrSet(key, () => 'v1')
      await cache.get(key)
      expect(l1).toBe(1)
      const send = (seq: number) =>
        raw.publish(
          `${prefix}:bus`,
          encodeBusMessage({ sender: 'peer-x', type: 'hb', keys: [], time: Date.now(), seq }, undefined),
        )
      await send(1)
      await send(2)
      // Message 3 (an invalidation, say) never arrives.
      await send(4)
      await waitUntil('the gap to be judged', () => events.includes('gap') || 'not yet', {
        timeoutMs: 3_000,
        intervalMs: 10,
      })
      const before = l1
      await cache.get(key)
      expect(l1).toBe(before) // L1 was dropped: served from Redis
      await ready(cache)
      await cache.get(key) // refill
      await cache.get(key)
      expect(l1).toBe(before + 1)
    } finally {
      raw.disconnect()
      await cache.close()
    }
  })

  it('CLIENT KILL TYPE pubsub: the drop is seen and L1 comes back only after the bus is whole', async () => {
    const prefix = uniquePrefix()
    const a = make(prefix)
    const b = make(prefix)
    const raw = new Redis(redis.url)
    const events: string[] = []
    a.on('bus:unhealthy', (e) => events.push(e.reason))
    try {
      await Promise.all([ready(a), ready(b)])
      const key = uniqueKey('kill')
      await a.getOrSet(key, () => 'v1')
      expect(await a.get(key)).toBe('v1')
      const back = ready(a)
      expect(Number(await raw.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThan(0)
      // Written while A's subscriber is cut: the message to A is lost.
      await b.set(key, 'v2')
      await back
      expect(events.length).toBeGreaterThan(0)
      expect(await a.get(key)).toBe('v2')
    } finally {
      raw.disconnect()
      await Promise.all([a.close(), b.close()])
    }
  })

  it('a peer that goes silent without saying goodbye makes L1 unknown; a closed peer does not', async () => {
    const prefix = uniquePrefix()
    const a = make(prefix)
    const events: string[] = []
    a.on('bus:unhealthy', (e) => events.push(e.reason))
    const raw = new Redis(redis.url)
    try {
      await ready(a)
      const b = make(prefix)
      await ready(b)
      await new Promise((r) => setTimeout(r, 300))
      await b.close() // says 'bye'
      await new Promise((r) => setTimeout(r, 800))
      expect(events).not.toContain('peer-silent')
      // A fake peer heartbeats twice and then stops (a crash).
      for (const seq of [1, 2]) {
        await raw.publish(
          `${prefix}:bus`,
          encodeBusMessage({ sender: 'crashed', type: 'hb', keys: [], time: Date.now(), seq }, undefined),
        )
      }
      await waitUntil('the silence to be judged', () => events.includes('peer-silent') || 'not yet', {
        timeoutMs: 3_000,
        intervalMs: 20,
      })
    } finally {
      raw.disconnect()
      await a.close()
    }
  })

  it('a tag-time table of one still honours every tag invalidation (evicted tags are read from Redis)', async () => {
    const prefix = uniquePrefix()
    const opts = { redis: redis.url, prefix, l1: { max: 100 }, bus: { maxTagTimes: 1 } }
    const a = createCache(opts)
    const b = createCache(opts)
    try {
      await Promise.all([ready(a), ready(b)])
      const keys = Array.from({ length: 20 }, (_, i) => uniqueKey(`tag${i}`))
      for (const [i, key] of keys.entries()) await a.getOrSet(key, () => i, { tags: [`t${i}`] })
      for (const key of keys) await a.get(key) // every tag time fetched, all but one evicted
      await b.invalidateTags(keys.map((_, i) => `t${i}`).filter((_, i) => i % 2 === 0))
      await waitUntil(
        'A to see every invalidated tag',
        async () => {
          const got = await Promise.all(keys.map((k) => a.get(k)))
          return got.every((v, i) => (i % 2 === 0 ? v === undefined : v === i)) || JSON.stringify(got)
        },
        { timeoutMs: 2_000, intervalMs: 20 },
      )
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('rejects a health window too short to carry heartbeats', () => {
    expect(() => createCache({ redis: redis.url, bus: { healthWindow: '10ms' } })).toThrow(
      /bus\.healthWindow/,
    )
  })
})
