import { type RedisServer, startRedis, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache, isCacheError } from '../src/index'

describe('Redis stopped mid-run', () => {
  let server: RedisServer
  let cache: Cache
  const codes: string[] = []
  beforeAll(async () => {
    server = await startRedis()
    cache = createCache({
      redis: server.url,
      prefix: uniquePrefix(),
      breaker: { threshold: 5, cooldown: '500ms' },
    })
    cache.on('error', (e) => codes.push(e.error.code))
  })
  afterAll(async () => {
    await cache.close()
    await server.stop()
  })

  it('answers every call from the loader, opens the breaker, and serves from Redis again after a restart', async () => {
    const keys = Array.from({ length: 10 }, () => uniqueKey('down'))
    for (const k of keys) expect(await cache.getOrSet(k, () => `warm:${k}`)).toBe(`warm:${k}`)

    await server.kill()
    let loads = 0
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => {
        const k = keys[i % keys.length] as string
        return cache.getOrSet(k, async () => {
          loads++
          // Longer than redisTimeout: every read that fails joins the load already in flight.
          await new Promise((r) => setTimeout(r, 1_000))
          return `loaded:${k}`
        })
      }),
    )
    // Every caller got an answer, none a rejection: fail-open.
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0)
    expect(
      results.every((r, i) => r.status === 'fulfilled' && r.value === `loaded:${keys[i % keys.length]}`),
    ).toBe(true)
    // In-process coalescing still holds with Redis gone: one load per key per wave.
    expect(loads).toBe(keys.length)
    expect(codes.length).toBeGreaterThan(0)
    expect(codes.every((c) => ['E_STORE_TIMEOUT', 'E_STORE_UNAVAILABLE', 'E_CIRCUIT_OPEN'].includes(c))).toBe(
      true,
    )

    // Sequential calls: after `threshold` failures the circuit opens and calls stop waiting on Redis.
    for (let i = 0; i < 10; i++) expect(await cache.getOrSet(uniqueKey('seq'), () => i)).toBe(i)
    expect(codes).toContain('E_CIRCUIT_OPEN')

    // failOpen: false turns the same trouble into a coded error for the caller.
    const err = await cache
      .getOrSet(uniqueKey('strict'), () => 1, { failOpen: false })
      .catch((e: unknown) => e)
    expect(isCacheError(err, 'E_STORE_UNAVAILABLE')).toBe(true)
    expect(isCacheError(err)).toBe(true)

    await server.restart()
    const probe = uniqueKey('back')
    await waitUntil(
      'the cache to use Redis again',
      async () => {
        await cache.set(probe, 'stored')
        return (await cache.get(probe)) === 'stored' || 'not yet'
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    let reloads = 0
    expect(await cache.getOrSet(probe, () => ++reloads)).toBe('stored')
    expect(reloads).toBe(0)
  })
})
