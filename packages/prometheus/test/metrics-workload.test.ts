import { type Cache, type CacheEventName, type CacheEvents, createCache, isCacheError } from '@herdless/core'
import { registerMetrics } from '@herdless/prometheus'
import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { gate, lockRefused, nonZeroCounts, parseExposition } from './helpers'

const open: Array<{ close(): Promise<unknown> }> = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

function cacheOn(redis: string | Redis, prefix: string, maxValueBytes?: number): Cache {
  const cache = createCache({
    redis,
    prefix,
    earlyRefresh: false,
    jitter: 0,
    // Bus traffic has its own test (bus-metrics.test.ts); here it would only add messages.
    bus: false,
    ...(maxValueBytes === undefined ? {} : { maxValueBytes }),
  })
  open.push(cache)
  return cache
}

function next<E extends CacheEventName>(cache: Cache, event: E): Promise<CacheEvents[E]> {
  return new Promise((resolve) => cache.once(event, resolve))
}

describe('registerMetrics on real Redis', () => {
  it('a scripted workload shows exactly its hits, misses, stale, loader error, lock waits and errors', async () => {
    const { url } = sharedRedis()
    const prefix = uniquePrefix()
    const registry = new Registry()
    const keyGroups = [
      { pattern: 'user:*', group: 'user' },
      { pattern: /^order:/, group: 'order' },
    ]
    // Two processes' worth of caches on one Redis and one prefix. B talks through a client the
    // test owns, so the test can see B's lock attempt being refused.
    const clientB = new Redis(url)
    open.push({ close: () => clientB.quit() })
    const b = cacheOn(clientB, prefix, 4096)
    const a = cacheOn(url, prefix)
    registerMetrics(b, { registry, keyGroups, cacheName: 'b' })
    registerMetrics(a, { registry, keyGroups, cacheName: 'a' })

    const keys = {
      hit: uniqueKey('user'),
      stale: uniqueKey('user'),
      failing: uniqueKey('order'),
      waited: uniqueKey('order'),
      timedOut: uniqueKey('misc'),
      garbage: uniqueKey('misc'),
      big: uniqueKey('misc'),
    }
    let loads = 0
    const loader = (value: string) => () => {
      loads++
      return value
    }

    // 1 miss then 2 hits.
    expect(await b.getOrSet(keys.hit, loader('v1'))).toBe('v1')
    expect(await b.getOrSet(keys.hit, loader('v1'))).toBe('v1')
    expect(await b.getOrSet(keys.hit, loader('v1'))).toBe('v1')

    // A stale copy served while one background refresh loads.
    await b.set(keys.stale, 'old')
    expect(await b.expire(keys.stale)).toBe(1)
    const refreshed = next(b, 'write')
    expect(await b.getOrSet(keys.stale, loader('new'))).toBe('old')
    await refreshed

    // A loader error with nothing stale to fall back on.
    await expect(
      b.getOrSet(keys.failing, () => {
        throw new Error('database down')
      }),
    ).rejects.toThrow('database down')

    // A lock wait: A loads slowly, B asks for the same cold key and waits for A's value.
    const slow = gate()
    const started = gate()
    const refused = lockRefused(clientB, `${b.entryKey(keys.waited)}:lock`)
    const aLoad = a.getOrSet(keys.waited, async () => {
      started.open()
      await slow.wait
      return 'from-a'
    })
    await started.wait
    let bLoads = 0
    const bWait = b.getOrSet(keys.waited, () => {
      bLoads++
      return 'from-b'
    })
    await refused
    slow.open()
    expect(await aLoad).toBe('from-a')
    expect(await bWait).toBe('from-a')
    expect(bLoads).toBe(0)

    // A lock wait that times out (lock.onTimeout 'throw'); A is let go only after B gave up.
    const slow2 = gate()
    const started2 = gate()
    const aLoad2 = a.getOrSet(keys.timedOut, async () => {
      started2.open()
      await slow2.wait
      return 'late'
    })
    await started2.wait
    const timedOut = next(b, 'lock:timeout')
    const bTimeout = b.getOrSet(keys.timedOut, () => 'never', { lock: { wait: 150, onTimeout: 'throw' } })
    await expect(bTimeout).rejects.toSatisfy((e: unknown) => isCacheError(e, 'E_LOCK_TIMEOUT'))
    await timedOut
    slow2.open()
    expect(await aLoad2).toBe('late')

    // Bytes that are not a Herdless entry: a miss plus a coded E_DECODE error.
    await clientB.set(b.entryKey(keys.garbage), 'not msgpack at all')
    expect(await b.get(keys.garbage)).toBeUndefined()

    // A value over maxValueBytes: returned, not stored (write skipped, E_VALUE_TOO_LARGE).
    expect(await b.getOrSet(keys.big, loader('x'.repeat(10_000)))).toHaveLength(10_000)

    expect(loads).toBe(3)
    expect(await nonZeroCounts(registry)).toEqual({
      // cache B
      'herdless_requests_total{cache="b",key_group="user",result="miss",tier="l2"}': 1,
      'herdless_requests_total{cache="b",key_group="user",result="hit",tier="l2"}': 2,
      'herdless_requests_total{cache="b",key_group="user",result="stale",tier="l2"}': 1,
      'herdless_requests_total{cache="b",key_group="order",result="miss",tier="l2"}': 2,
      // one lookup event per call: the waiter's miss; how it got its value is the lock wait below
      'herdless_requests_total{cache="b",key_group="other",result="miss",tier="l2"}': 3,
      'herdless_loader_duration_seconds_count{cache="b",key_group="user",result="ok"}': 2,
      'herdless_loader_duration_seconds_count{cache="b",key_group="order",result="error"}': 1,
      'herdless_loader_duration_seconds_count{cache="b",key_group="other",result="ok"}': 1,
      'herdless_loader_errors_total{cache="b",key_group="order"}': 1,
      'herdless_lock_wait_seconds_count{cache="b",key_group="order",outcome="value"}': 1,
      'herdless_lock_wait_seconds_count{cache="b",key_group="other",outcome="timeout"}': 1,
      'herdless_lock_timeouts_total{cache="b",key_group="other"}': 1,
      'herdless_redis_errors_total{cache="b",code="E_DECODE"}': 1,
      'herdless_redis_errors_total{cache="b",code="E_VALUE_TOO_LARGE"}': 1,
      'herdless_writes_skipped_total{cache="b",reason="too-large"}': 1,
      // cache A: the two slow loads it ran, and no lock wait
      'herdless_requests_total{cache="a",key_group="order",result="miss",tier="l2"}': 1,
      'herdless_requests_total{cache="a",key_group="other",result="miss",tier="l2"}': 1,
      'herdless_loader_duration_seconds_count{cache="a",key_group="order",result="ok"}': 1,
      'herdless_loader_duration_seconds_count{cache="a",key_group="other",result="ok"}': 1,
    })

    // The lock-wait histogram put B's waits in buckets: the one ending in a value took at least
    // one 20 ms poll, the timed-out one the full 150 ms lock.wait.
    const samples = parseExposition(await registry.metrics())
    const waitSum = (outcome: string) =>
      samples.find(
        (s) =>
          s.name === 'herdless_lock_wait_seconds_sum' &&
          s.labels.cache === 'b' &&
          s.labels.outcome === outcome,
      )?.value
    expect(waitSum('value')).toBeGreaterThan(0)
    expect(waitSum('timeout')).toBeGreaterThanOrEqual(0.15)

    // No label value anywhere carries a raw key (or the unique part of one).
    const raw = Object.values(keys)
    for (const s of samples) {
      for (const value of Object.values(s.labels)) {
        for (const key of raw) {
          expect(value).not.toContain(key)
          expect(value).not.toContain(key.split(':')[1])
        }
      }
    }
    const labelValues = new Set(samples.flatMap((s) => Object.values(s.labels)))
    expect([...labelValues].filter((v) => v.includes(':'))).toEqual([])
  })
})
