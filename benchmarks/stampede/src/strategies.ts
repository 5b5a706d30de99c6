import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createCache } from '@herdless/core'
import type { Redis } from 'ioredis'
import type { Strategy } from './protocol'

/**
 * One way of reading a cached value. `missed`: the call found no usable value. `waited`: the
 * call ran a computation itself or waited for someone else's (counted by what the code did,
 * not by how long it took).
 */
export interface Reader {
  read(): Promise<{ value: string; missed: boolean; waited: boolean }>
  /** Connect before the clock starts. */
  warm(): Promise<void>
  close(): Promise<void>
}

export interface ReaderOptions {
  key: string
  ttlMs: number
  /** The expensive computation: counted by the caller of makeReader. */
  compute: () => Promise<string>
}

/** Classic cache-aside: GET; on a miss, compute and SET. Every concurrent miss recomputes. */
function cacheAside(redis: Redis, o: ReaderOptions): Reader {
  return {
    async read() {
      const hit = await redis.get(o.key)
      if (hit !== null) return { value: hit, missed: false, waited: false }
      const value = await o.compute()
      await redis.set(o.key, value, 'PX', o.ttlMs)
      return { value, missed: true, waited: true }
    },
    warm: async () => {},
    async close() {},
  }
}

/**
 * Cache-aside with a SET NX lock: one caller recomputes, the others poll every 50 ms until the
 * value is there. One recompute per expiry, but every caller that missed waits for it.
 */
function setNxLock(redis: Redis, o: ReaderOptions): Reader {
  const lockKey = `${o.key}:lock`
  return {
    async read() {
      let hit = await redis.get(o.key)
      if (hit !== null) return { value: hit, missed: false, waited: false }
      for (;;) {
        const token = randomBytes(8).toString('hex')
        if ((await redis.set(lockKey, token, 'PX', 10_000, 'NX')) === 'OK') {
          // Someone may have written it between our GET and our lock.
          hit = await redis.get(o.key)
          if (hit === null) {
            hit = await o.compute()
            await redis.set(o.key, hit, 'PX', o.ttlMs)
          }
          if ((await redis.get(lockKey)) === token) await redis.del(lockKey)
          return { value: hit, missed: true, waited: true }
        }
        await sleep(50)
        hit = await redis.get(o.key)
        if (hit !== null) return { value: hit, missed: true, waited: true }
      }
    },
    warm: async () => {},
    async close() {},
  }
}

/**
 * XFetch alone (Vattani et al.): each hit recomputes early with probability rising as expiry
 * nears, weighted by how long the last computation took (delta). No lock: the caller that
 * draws an early refresh computes it itself, and several may draw at once.
 */
function xfetch(redis: Redis, o: ReaderOptions, beta = 1): Reader {
  const recompute = async () => {
    const started = Date.now()
    const value = await o.compute()
    const delta = Date.now() - started
    await redis.set(o.key, JSON.stringify({ value, delta, expiry: Date.now() + o.ttlMs }), 'PX', o.ttlMs)
    return value
  }
  return {
    async read() {
      const raw = await redis.get(o.key)
      if (raw === null) return { value: await recompute(), missed: true, waited: true }
      const e = JSON.parse(raw) as { value: string; delta: number; expiry: number }
      if (Date.now() - e.delta * beta * Math.log(Math.random()) >= e.expiry) {
        return { value: await recompute(), missed: false, waited: true }
      }
      return { value: e.value, missed: false, waited: false }
    },
    warm: async () => {},
    async close() {},
  }
}

/**
 * Herdless with its defaults (lock, stale-while-revalidate, XFetch) and the bus, no jitter.
 * Make one per worker loop: each is then its own "process" (connections, coalescing), so no
 * in-process sharing helps it, and its 'miss' events belong to that loop's calls alone.
 */
function herdless(url: string, o: ReaderOptions): Reader {
  const cache = createCache({
    redis: url,
    prefix: 'bench',
    ttl: o.ttlMs,
    staleTtl: '1m',
    jitter: 0,
    bus: true,
  })
  const subscribed = new Promise<void>((resolve) => cache.once('bus:ready', () => resolve()))
  let missed = false
  cache.on('miss', () => {
    missed = true
  })
  return {
    async read() {
      missed = false
      const value = await cache.getOrSet(o.key, () => o.compute())
      // A Herdless caller waits only after a miss (its own load, or another process's);
      // stale-while-revalidate and early refreshes run in the background.
      return { value, missed, waited: missed }
    },
    warm: async () => {
      await Promise.all([subscribed, cache.get(`${o.key}-warmup`)])
    },
    close: () => cache.close(),
  }
}

export function makeReader(strategy: Strategy, redis: Redis, url: string, o: ReaderOptions): Reader {
  switch (strategy) {
    case 'cache-aside':
      return cacheAside(redis, o)
    case 'set-nx-lock':
      return setNxLock(redis, o)
    case 'xfetch':
      return xfetch(redis, o)
    case 'herdless':
      return herdless(url, o)
  }
}
