import { setTimeout as sleep } from 'node:timers/promises'
import { type Cache, createCache } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

/**
 * Found by the history checker (faults.soak.ts, cluster): after `expire(k)` completed, a refresh
 * whose loader fails falls back to the old entry (stale-if-error, allowed) and the backoff then
 * rewrites that entry's freshUntil (failSafeBackoff, 5 s), so every read for the next 5 s gets
 * the value loaded before the expire as a FRESH answer (`l2`, then `l1`), in this process and
 * every other. docs/consistency.md rule 1 says a fresh answer never goes back past a completed
 * invalidation, and rule 4 lists stale-if-error only for "the caller whose loader failed".
 */
const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

describe('stale-if-error backoff after expire()', () => {
  it('a read after the failed refresh gets the expired value as stale or reloads, never as fresh', async () => {
    const cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), l1: false, ttl: '1m' })
    caches.push(cache)
    await cache.getOrSet('k', () => 'v1')
    await cache.expire('k')
    // Stale-while-revalidate: v1 at once, the background refresh's loader fails.
    const first = await cache.getOrSetResult('k', () => Promise.reject(new Error('db down')))
    expect(first).toEqual({ value: 'v1', source: 'stale' })
    await sleep(100)
    // A later read whose loader works: v1 may come back only as a stale answer.
    const next = await cache.getOrSetResult('k', () => 'v2')
    expect(next.value === 'v2' || next.source === 'stale', JSON.stringify(next)).toBe(true)
  })
})
