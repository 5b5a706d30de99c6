import { type Cache, createCache } from '@herdless/core'
import herdless, { type HerdlessFastifyOptions } from '@herdless/fastify'
import { sharedRedis, uniquePrefix, waitUntil } from '@herdless/test-utils'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach } from 'vitest'

/**
 * These tests count loader/handler runs. On a loaded 2-core CI machine a Redis read can outlast
 * the 250 ms default deadline and fail open to the loader (by design), which would read as a
 * stampede; a generous deadline keeps the count about coordination, not machine load.
 */
const TEST_REDIS_TIMEOUT = '2s'

const apps: FastifyInstance[] = []
const caches: Cache[] = []

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

/** A cache on the shared Redis with a prefix no other test uses; closed after the test. */
export function testCache(): Cache {
  const cache = createCache({
    redis: sharedRedis().url,
    prefix: uniquePrefix(),
    redisTimeout: TEST_REDIS_TIMEOUT,
  })
  caches.push(cache)
  return cache
}

/** A Fastify app with the plugin registered on a test cache; closed after the test. */
export function testApp(http: HerdlessFastifyOptions['http'] = {}): { app: FastifyInstance; cache: Cache } {
  const cache = testCache()
  const app = Fastify()
  apps.push(app)
  app.register(herdless, { cache, http: { ttl: '1m', jitter: 0, ...http } })
  return { app, cache }
}

/** Closed after the test. */
export function track(app: FastifyInstance): FastifyInstance {
  apps.push(app)
  return app
}

export { Calls, sleep } from '@herdless/test-utils'

/** Poll until `check` holds (5 s at most). */
export function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  return waitUntil(what, async () => ((await check()) ? true : 'not yet'), { timeoutMs, intervalMs: 20 })
}
