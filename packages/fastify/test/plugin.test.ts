import { isCacheError } from '@herdless/core'
import herdless, { herdless as named, PluginRegistrationError } from '@herdless/fastify'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { testCache, track } from './helpers'

describe('plugin', () => {
  it('decorates fastify.cache with the given cache and never closes it', async () => {
    const cache = testCache()
    const app = Fastify()
    await app.register(herdless, { cache })
    expect(app.cache).toBe(cache)
    await app.close()
    await expect(cache.getOrSet('still-open', () => 1)).resolves.toBe(1)
  })

  it('creates a cache from core options and closes it with Fastify', async () => {
    const app = Fastify()
    await app.register(named, { redis: sharedRedis().url, prefix: uniquePrefix(), ttl: '30s' })
    const cache = app.cache
    app.get('/x', { config: { cache: true } }, async () => 'x')
    await app.ready()
    expect((await app.inject('/x')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/x')).headers['x-cache']).toBe('HIT')
    // Routes default to the top-level ttl (30 s, ±10% jitter), not core's 5 min.
    const info = await cache.inspect('http:GET:/x')
    const ttl = info ? info.freshUntil - info.createdAt : 0
    expect(ttl).toBeGreaterThanOrEqual(27_000)
    expect(ttl).toBeLessThanOrEqual(33_000)
    await app.close()
    await expect(cache.getOrSet('k', () => 1)).rejects.toMatchObject({ code: 'E_CLOSED' })
  })

  it('rejects double registration with a clear coded error', async () => {
    const app = track(Fastify())
    const cache = testCache()
    app.register(herdless, { cache })
    app.register(herdless, { cache })
    const error = await app.ready().then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(error).toBeInstanceOf(PluginRegistrationError)
    expect(isCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    expect(String(error)).toMatch(/already exists/)
  })

  it('rejects core options next to a given cache, and invalid route config at registration', async () => {
    const cache = testCache()
    const a = track(Fastify())
    a.register(herdless, { cache, redis: sharedRedis().url })
    await expect(a.ready()).rejects.toMatchObject({ code: 'E_INVALID_OPTION', option: 'redis' })

    const b = track(Fastify())
    await b.register(herdless, { cache })
    expect(() => b.get('/bad', { config: { cache: { ttl: 'soon' } } }, async () => 'x')).toThrow(/ttl/)
    expect(() => b.get('/bad2', { config: { cache: { statuses: [1] } } }, async () => 'x')).toThrow(
      /statuses/,
    )
  })

  it('a created cache is closed when the plugin fails to load', async () => {
    const app = track(Fastify())
    app.register(herdless, { redis: sharedRedis().url, prefix: uniquePrefix(), http: { ttl: -5 } })
    await expect(app.ready()).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
  })
})
