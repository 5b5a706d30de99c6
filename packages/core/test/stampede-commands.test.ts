import { type Cache, createCache } from '@herdless/core'
import { parseInfo, type RedisServer, RespConnection, startRedis, uniqueKey } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Redis commands per lock waiter, counted by the server itself (INFO commandstats on a private
 * server, so no other test's traffic is in the numbers).
 *
 * Woken by the bus a waiter makes 3 round trips: its GET miss, the read-or-lock EVALSHA (which
 * runs a GET and a failed SET NX inside: commandstats counts those too, so 5 commands), the GET
 * after the notification. A waiter that can only poll pays an EVALSHA per poll on top.
 */
const WAITERS = 15
const PER_WAITER = 5
/**
 * The holder: GET miss, read-or-lock EVALSHA (+ GET, SET NX inside), the write EVALSHA (+ GET,
 * SET, DEL inside), PUBLISH. The scripts are loaded on connect: no NOSCRIPT + EVAL.
 */
const HOLDER = 9
/** Connection and Pub/Sub bookkeeping, not per-call work. */
const NOT_COUNTED = new Set([
  'info',
  'client',
  'hello',
  'ping',
  'select',
  'auth',
  'command',
  'cluster',
  'readonly',
  'config',
  'subscribe',
  'ssubscribe',
  'psubscribe',
  'unsubscribe',
  'sunsubscribe',
  'punsubscribe',
])

let server: RedisServer
let admin: RespConnection
beforeAll(async () => {
  server = await startRedis()
  admin = await RespConnection.open(server.port)
})
afterAll(async () => {
  admin?.close()
  await server?.stop()
})

async function commandStats(): Promise<Record<string, number>> {
  const info = parseInfo(await admin.text('INFO', 'commandstats'))
  const out: Record<string, number> = {}
  for (const [field, value] of Object.entries(info)) {
    const name = field.replace(/^cmdstat_/, '')
    if (name === field || NOT_COUNTED.has(name.split('|')[0] ?? name)) continue
    const calls = /calls=(\d+)/.exec(value)
    const rejected = /rejected_calls=(\d+)/.exec(value)
    out[name] = Number(calls?.[1] ?? 0) + Number(rejected?.[1] ?? 0)
  }
  return out
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, n] of Object.entries(after)) if (n - (before[k] ?? 0) > 0) out[k] = n - (before[k] ?? 0)
  return out
}

describe('Redis commands per lock waiter', () => {
  it(`${WAITERS + 1} processes' callers on one cold key: at most ${PER_WAITER} commands per waiter`, async () => {
    // One cache per "process": its own connections and in-process state, so each one that
    // does not win the lock is a fleet-level waiter (no in-process coalescing between them).
    const subscribed: Promise<void>[] = []
    const caches: Cache[] = Array.from({ length: WAITERS + 1 }, () => {
      // A long health window: heartbeats (PUBLISH) every 15 s, none during the counted burst.
      const c = createCache({
        redis: server.url,
        prefix: 'cmd',
        bus: { healthWindow: '60s' },
        jitter: 0,
        redisTimeout: '2s',
      })
      subscribed.push(new Promise((resolve) => c.once('bus:ready', () => resolve())))
      return c
    })
    try {
      // Connected and subscribed before counting: notifications can reach every waiter.
      await Promise.all([...subscribed, ...caches.map((c) => c.get(uniqueKey('warmup')))])
      const key = uniqueKey('cold')
      let calls = 0
      const loader = async () => {
        calls++
        await new Promise((r) => setTimeout(r, 200))
        return 'value'
      }
      const before = await commandStats()
      const values = await Promise.all(caches.map((c) => c.getOrSet(key, loader)))
      const used = diff(await commandStats(), before)
      const totalUsed = Object.values(used).reduce((a, b) => a + b, 0)

      expect(calls).toBe(1)
      expect(values.every((v) => v === 'value')).toBe(true)
      expect(
        totalUsed,
        `${totalUsed} commands for 1 holder + ${WAITERS} waiters: ${JSON.stringify(used)}`,
      ).toBeLessThanOrEqual(PER_WAITER * WAITERS + HOLDER)
    } finally {
      await Promise.all(caches.map((c) => c.close()))
    }
  })
})

describe('Redis commands per miss in one process', () => {
  it('250 callers of one cold key in one synchronous burst: one GET, read-or-lock, write, nothing per caller', async () => {
    const c = createCache({ redis: server.url, prefix: 'burst', bus: true, jitter: 0, redisTimeout: '2s' })
    try {
      await new Promise<void>((resolve) => c.once('bus:ready', () => resolve()))
      await c.get(uniqueKey('warmup'))
      const key = uniqueKey('burst')
      let calls = 0
      const before = await commandStats()
      const values = await Promise.all(
        Array.from({ length: 250 }, () =>
          c.getOrSet(key, () => {
            calls++
            return 'v'
          }),
        ),
      )
      const used = diff(await commandStats(), before)
      // The bus's PUBLISH leaves on the next setImmediate: it may or may not be counted yet.
      delete used.publish
      expect(calls).toBe(1)
      expect(values.every((v) => v === 'v')).toBe(true)
      // One GET from the burst (each caller sent its own before: 250), the read-or-lock script
      // (GET + SET NX inside), the write script (GET, SET, DEL inside).
      expect(used, JSON.stringify(used)).toEqual({ get: 3, evalsha: 2, set: 2, del: 1 })
    } finally {
      await c.close()
    }
  })
})

describe('Redis commands per hit', () => {
  it('200 callers of 200 warm keys in one burst: one MGET per 128 keys, no GET per caller, every value right', async () => {
    const c = createCache({ redis: server.url, prefix: 'hits', jitter: 0, redisTimeout: '2s' })
    try {
      const keys = Array.from({ length: 200 }, (_, i) => uniqueKey(`hit${i}`))
      for (const [i, k] of keys.entries()) await c.set(k, { i })
      let calls = 0
      const before = await commandStats()
      const values = await Promise.all(
        keys.map((k) =>
          c.getOrSet(k, () => {
            calls++
            return null
          }),
        ),
      )
      const used = diff(await commandStats(), before)
      delete used.publish // the sets' bus messages (and heartbeats) leave on their own schedule
      expect(calls).toBe(0)
      expect(values).toEqual(keys.map((_, i) => ({ i })))
      // 200 keys read in one tick: two MGETs (128 + 72), no single GETs.
      expect(used, JSON.stringify(used)).toEqual({ mget: 2 })
      // A lone read in a tick stays a plain GET.
      const before1 = await commandStats()
      expect(await c.getOrSet(keys[0] as string, () => null)).toEqual({ i: 0 })
      const used1 = diff(await commandStats(), before1)
      delete used1.publish
      expect(used1).toEqual({ get: 1 })
    } finally {
      await c.close()
    }
  })
})

describe('Redis commands per miss, many keys', () => {
  it('100 callers of 100 cold keys in one burst: one MGET, one read-or-lock call, one write call', async () => {
    const c = createCache({ redis: server.url, prefix: 'misses', jitter: 0, redisTimeout: '2s' })
    try {
      await c.get(uniqueKey('warmup'))
      const keys = Array.from({ length: 100 }, (_, i) => uniqueKey(`miss${i}`))
      let calls = 0
      const before = await commandStats()
      const values = await Promise.all(
        keys.map((k, i) =>
          c.getOrSet(k, () => {
            calls++
            return { i }
          }),
        ),
      )
      const used = diff(await commandStats(), before)
      delete used.publish
      expect(calls).toBe(100)
      expect(values).toEqual(keys.map((_, i) => ({ i })))
      // Inside the two scripts Redis counts each entry's own steps: GET + SET NX (read-or-lock),
      // GET + SET + DEL (write). What is per tick, not per key: the MGET and the two EVALSHAs.
      expect(used, JSON.stringify(used)).toEqual({ mget: 1, evalsha: 2, get: 200, set: 200, del: 100 })
      // Every value was stored: read back in one MGET, no loader call.
      const again = await Promise.all(keys.map((k) => c.getOrSet(k, () => null)))
      expect(again).toEqual(values)
    } finally {
      await c.close()
    }
  })

  it('a key of the wrong type in a batch fails alone: the other entries are stored', async () => {
    const c = createCache({ redis: server.url, prefix: 'wrongtype', jitter: 0, redisTimeout: '2s' })
    const errors: string[] = []
    c.on('error', (e) => errors.push(`${e.key}:${e.error.code}`))
    try {
      const keys = Array.from({ length: 20 }, (_, i) => uniqueKey(`wt${i}`))
      const bad = keys[7] as string
      await admin.call('HSET', c.entryKey(bad), 'f', 'v')
      const values = await Promise.all(keys.map((k) => c.getOrSet(k, () => `v:${k}`)))
      expect(values).toEqual(keys.map((k) => `v:${k}`))
      const stored = await Promise.all(keys.map((k) => c.get(k)))
      expect(stored).toEqual(keys.map((k) => (k === bad ? undefined : `v:${k}`)))
      // The wrong-type key reports its own errors; no other key does.
      expect(errors.length).toBeGreaterThan(0)
      expect(
        errors.every((e) => e.startsWith(`${bad}:`)),
        errors.join(', '),
      ).toBe(true)
    } finally {
      await c.close()
    }
  })
})
