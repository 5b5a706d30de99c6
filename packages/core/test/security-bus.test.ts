import { sharedRedis, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { encodeBusMessage } from '../src/bus/codec'
import { type Cache, createCache } from '../src/index'

const readyBus = (cache: Cache) => new Promise<void>((resolve) => cache.once('bus:ready', () => resolve()))

const OLD = 'old-key-0123456789abcdef'
const NEW = 'new-key-0123456789abcdef'
const RETIRED = 'retired-key-0123456789ab'

describe('bus key rotation', () => {
  it('accepts every key in the list, signs with the first, rejects retired keys, replays and bombs', async () => {
    const prefix = uniquePrefix()
    const opts = (signingKey: string[]) => ({
      redis: sharedRedis().url,
      prefix,
      l1: { max: 100 },
      bus: { signingKey },
    })
    const a = createCache(opts([NEW, OLD])) // rotated: signs with NEW, still accepts OLD
    const b = createCache(opts([OLD])) // not yet rotated
    const c = createCache(opts([OLD, NEW])) // phase 1: signs with OLD, already accepts NEW
    const raw = new Redis(sharedRedis().url)
    const rejected = { a: [] as string[], b: [] as string[], c: [] as string[] }
    a.on('bus:rejected', (e) => rejected.a.push(e.reason))
    b.on('bus:rejected', (e) => rejected.b.push(e.reason))
    c.on('bus:rejected', (e) => rejected.c.push(e.reason))
    const l1Hits: string[] = []
    a.on('hit', (e) => {
      if (e.tier === 'l1') l1Hits.push(e.key)
    })
    try {
      await Promise.all([a, b, c].map(readyBus))
      const key = uniqueKey('rot')
      await a.getOrSet(key, () => 'v1')

      // B (OLD only) and C (signing with OLD) are both heard by A.
      await b.set(key, 'v2')
      await waitUntil('A to drop v1 on B’s message', async () => (await a.get(key)) === 'v2' || 'not yet', {
        timeoutMs: 2_000,
      })
      await c.set(key, 'v3')
      await waitUntil('A to drop v2 on C’s message', async () => (await a.get(key)) === 'v3' || 'not yet', {
        timeoutMs: 2_000,
      })

      // A signs with NEW: C verifies it, B cannot — why phase 1 ([OLD, NEW] everywhere) comes first.
      await c.get(key)
      await b.get(key)
      await a.set(key, 'v4')
      await waitUntil(
        'B to reject A’s NEW signature',
        () => rejected.b.includes('bad-signature') || 'not yet',
        {
          timeoutMs: 2_000,
        },
      )
      await waitUntil('C to drop v3 on A’s message', async () => (await c.get(key)) === 'v4' || 'not yet', {
        timeoutMs: 2_000,
      })
      expect(rejected.c).toEqual([])

      // Retired key, replay with a good key, and a decompression bomb: all dropped by A.
      expect(await a.get(key)).toBe('v4') // in A's L1 now
      const channel = `${prefix}:bus`
      const k = a.entryKey(key)
      const del = (time: number) => ({ sender: 'evil', type: 'del' as const, keys: [k], time })
      await raw.publish(channel, encodeBusMessage(del(Date.now()), Buffer.from(RETIRED)))
      await raw.publish(channel, encodeBusMessage(del(Date.now() - 60_000), Buffer.from(NEW)))
      const bomb = Buffer.concat(Array(200).fill(Buffer.from([0xdd, 0x00, 0x1f, 0xff, 0xff])))
      const heapBefore = process.memoryUsage().heapUsed
      await raw.publish(channel, bomb)
      await waitUntil('three rejections at A', () => rejected.a.length >= 3 || `${rejected.a.length}`, {
        timeoutMs: 2_000,
      })
      // 200 nested `dd 00 1f ff ff` would have preallocated gigabytes before the length walk.
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024)
      expect(rejected.a.sort()).toEqual(['bad-signature', 'malformed', 'replayed'])
      l1Hits.length = 0
      expect(await a.get(key)).toBe('v4')
      expect(l1Hits).toEqual([key]) // still served from L1: none of the three touched it
    } finally {
      await Promise.all([a.close(), b.close(), c.close(), raw.quit()])
    }
  })
})
