import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Cache, createCache } from '@herdless/core'
import { sharedRedis, uniquePrefix, waitUntil } from '@herdless/test-utils'
import type express from 'express'
import { afterEach } from 'vitest'

/**
 * These tests count loader/handler runs. On a loaded 2-core CI machine a Redis read can outlast
 * the 250 ms default deadline and fail open to the loader (by design), which would read as a
 * stampede; a generous deadline keeps the count about coordination, not machine load.
 */
const TEST_REDIS_TIMEOUT = '2s'

export type ExpressFactory = typeof express

const caches: Cache[] = []
const servers: Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
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

export { Calls, sleep } from '@herdless/test-utils'

/** Listen on a free loopback port; closed after the test. Returns the base URL. */
export async function listen(app: express.Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  // Many concurrent clients on one loopback server: keep the accept backlog out of the way.
  server.maxConnections = 10_000
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Poll until `check` holds (5 s at most). */
export function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  return waitUntil(what, async () => ((await check()) ? true : 'not yet'), { timeoutMs, intervalMs: 20 })
}
