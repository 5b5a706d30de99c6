import { type Cache, type CacheOptions, createCache } from '@herdless/core'
import { registerMetrics } from '@herdless/prometheus'
import { sharedRedis, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { nonZeroCounts } from './helpers'

const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

function cache(options: CacheOptions): Cache {
  const c = createCache({ redis: sharedRedis().url, earlyRefresh: false, ...options })
  caches.push(c)
  return c
}

describe('L1 and bus metrics on real Redis', () => {
  it('counts L1 hits per tier and reports the L1 size at scrape time', async () => {
    const registry = new Registry()
    const c = cache({ prefix: uniquePrefix(), l1: { max: 100 }, bus: false })
    registerMetrics(c, { registry, cacheName: 'l1' })
    const keys = [uniqueKey(), uniqueKey()]
    for (const key of keys) await c.getOrSet(key, () => key)
    for (const key of keys) expect(await c.getOrSet(key, () => 'reloaded')).toBe(key)
    expect(await c.getOrSet(keys[0] as string, () => 'reloaded')).toBe(keys[0])
    expect(await nonZeroCounts(registry, (s) => !s.name.startsWith('herdless_loader'))).toEqual({
      'herdless_requests_total{cache="l1",key_group="other",result="miss",tier="l1"}': 2,
      'herdless_requests_total{cache="l1",key_group="other",result="miss",tier="l2"}': 2,
      'herdless_requests_total{cache="l1",key_group="other",result="hit",tier="l1"}': 3,
      'herdless_l1_entries{cache="l1"}': 2,
    })
  })

  it('counts bus messages published and received, and rejects forged ones', async () => {
    const registry = new Registry()
    const prefix = uniquePrefix()
    const key1 = 'a-signing-key-of-32-bytes-000001'
    const key2 = 'a-signing-key-of-32-bytes-000002'
    const sender = cache({ prefix, l1: { max: 100 }, bus: { signingKey: key1 } })
    const peer = cache({ prefix, l1: { max: 100 }, bus: { signingKey: key1 } })
    const stranger = cache({ prefix, l1: { max: 100 }, bus: { signingKey: key2 } })
    registerMetrics(sender, { registry, cacheName: 'sender' })
    registerMetrics(peer, { registry, cacheName: 'peer' })
    registerMetrics(stranger, { registry, cacheName: 'stranger' })
    // A bus cache trusts its L1 only once it is subscribed; an L1 hit proves it. The probe
    // entry is written by a cache without a bus, so probing publishes nothing.
    const writer = cache({ prefix, bus: false })
    const probe = uniqueKey()
    await writer.set(probe, 'probe')
    for (const c of [sender, peer, stranger]) {
      let l1Hits = 0
      const onHit = (e: { key: string; tier: string }) => {
        if (e.key === probe && e.tier === 'l1') l1Hits++
      }
      c.on('hit', onHit)
      await waitUntil('the bus to be subscribed (an L1 hit)', async () => {
        await c.getOrSet(probe, () => 'unused')
        return l1Hits > 0 || 'no L1 hit yet'
      })
      c.off('hit', onHit)
    }
    const bus = (s: { name: string }) => s.name === 'herdless_bus_messages_total'

    await sender.delete(uniqueKey())
    await sender.delete(uniqueKey())
    // Heartbeats are not counted as messages, but every process rejects the other key's
    // heartbeats: rejected counts only grow, so they are checked as lower bounds.
    const expected = {
      'herdless_bus_messages_total{cache="sender",direction="published",result="ok"}': 2,
      'herdless_bus_messages_total{cache="peer",direction="received",result="ok"}': 2,
    }
    const delivered = (got: Record<string, number>) =>
      Object.entries(expected).every(([k, v]) => got[k] === v) &&
      (got['herdless_bus_messages_total{cache="stranger",direction="received",result="rejected"}'] ?? 0) >= 2
    await waitUntil(
      'every message delivered',
      async () => {
        const got = await nonZeroCounts(registry, bus)
        return delivered(got) || JSON.stringify(got)
      },
      { timeoutMs: 10_000 },
    ).catch(() => {})
    const got = await nonZeroCounts(registry, bus)
    expect(Object.fromEntries(Object.entries(got).filter(([k]) => k in expected))).toEqual(expected)
    expect(
      got['herdless_bus_messages_total{cache="stranger",direction="received",result="rejected"}'],
    ).toBeGreaterThanOrEqual(2)
    expect(Object.keys(got).filter((k) => k.includes('result="ok"') && !(k in expected))).toEqual([])
  })
})
