import { connect, createServer, type Server, type Socket } from 'node:net'
import { type Cache, type CacheOptions, createCache } from '@herdless/core'
import {
  type RedisServer,
  sharedCluster,
  sharedRedis,
  sleep,
  startRedis,
  uniqueKey,
  uniquePrefix,
  waitUntil,
} from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

/**
 * The races of docs/consistency.md, one interleaving each, on real Redis: an invalidation lands
 * while a load is in flight, and nothing the load began with may survive it. Each of these
 * failed on the protocol before leases (6bc0925).
 */

/** A "database": a version per key that every write raises. */
class Db {
  readonly #v = new Map<string, number>()
  read(key: string): number {
    return this.#v.get(key) ?? 1
  }
  write(key: string): number {
    const v = this.read(key) + 1
    this.#v.set(key, v)
    return v
  }
}

const open: Cache[] = []
function cache(options: CacheOptions): Cache {
  const c = createCache({ jitter: 0, redisTimeout: '2s', ...options })
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

/** Two caches ("processes") with L1 and the bus on one backend, both subscribed. */
async function pair(
  redis: CacheOptions['redis'],
  extra: CacheOptions = {},
  redisB: CacheOptions['redis'] = redis,
): Promise<[Cache, Cache]> {
  const prefix = uniquePrefix()
  const a = cache({ redis, prefix, l1: { max: 100 }, ...extra })
  const b = cache({ redis: redisB, prefix, l1: { max: 100 }, ...extra })
  await Promise.all([a, b].map((c) => new Promise<void>((resolve) => c.once('bus:ready', () => resolve()))))
  return [a, b]
}

/** A connected node-redis 5 client (Herdless requires it connected). */
async function nodeRedis(cluster: boolean) {
  const c = cluster
    ? createCluster({
        rootNodes: sharedCluster().startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
      })
    : createClient({ url: sharedRedis().url })
  c.on('error', () => {})
  await c.connect()
  return c
}

type Invalidation = 'set' | 'delete' | 'expire' | 'invalidateTags' | 'invalidatePattern' | 'clear'
const INVALIDATIONS: Invalidation[] = [
  'set',
  'delete',
  'expire',
  'invalidateTags',
  'invalidatePattern',
  'clear',
]

function invalidate(c: Cache, how: Invalidation, key: string, version: number): Promise<unknown> {
  switch (how) {
    case 'set':
      return c.set(key, version, { tags: ['t'] })
    case 'delete':
      return c.delete(key)
    case 'expire':
      return c.expire(key)
    case 'invalidateTags':
      return c.invalidateTags('t')
    case 'invalidatePattern':
      return c.invalidatePattern(`${key.slice(0, 6)}*`)
    case 'clear':
      return c.clear()
  }
}

/**
 * Process A's loader reads v1 and takes 300 ms; 50 ms in, process B writes v2 and invalidates.
 * After both settle, every read anywhere must see v2 (A's own callers, already waiting, may get v1).
 */
async function inFlightRace(a: Cache, b: Cache, how: Invalidation): Promise<number[]> {
  const db = new Db()
  const key = uniqueKey('race')
  const loader = async () => {
    const v = db.read(key)
    await sleep(300)
    return v
  }
  const leased = new Promise<void>((resolve) => a.once('lock:acquired', () => resolve()))
  const slow = a.getOrSet(key, loader, { tags: ['t'] })
  await leased // A's load holds its lease (a fixed sleep was too short on a busy machine)
  await sleep(20)
  const v2 = db.write(key)
  await invalidate(b, how, key, v2)
  expect(await slow).toBe(1) // the caller already waiting gets the load it waited for
  await sleep(50)
  const fresh = () => Promise.resolve(db.read(key))
  return Promise.all([
    a.getOrSet(key, fresh, { tags: ['t'] }),
    b.getOrSet(key, fresh, { tags: ['t'] }),
    a.get(key),
    b.get(key),
  ]).then((vs) => vs.map((v) => (v === undefined ? v2 : (v as number))))
}

describe('an invalidation while another process loads the key', () => {
  for (const how of INVALIDATIONS) {
    it(`${how}: the load's older value is not stored, on standalone Redis`, async () => {
      const [a, b] = await pair(sharedRedis().url)
      expect(await inFlightRace(a, b, how)).toEqual([2, 2, 2, 2])
    })
  }

  for (const how of ['set', 'delete', 'expire', 'invalidatePattern'] as const) {
    it(`${how}: the same on the 3+3 cluster`, async () => {
      const [a, b] = await pair({ cluster: sharedCluster().startupNodes })
      expect(await inFlightRace(a, b, how)).toEqual([2, 2, 2, 2])
    })
  }

  // node-redis 5 clients handed in (one connection per "process"), through the client seam.
  for (const [name, cluster, list] of [
    ['standalone', false, INVALIDATIONS],
    ['cluster', true, ['set', 'delete', 'expire', 'invalidatePattern']],
  ] as const) {
    for (const how of list) {
      it(`${how}: the same through node-redis 5 (${name})`, async () => {
        const [ca, cb] = await Promise.all([nodeRedis(cluster), nodeRedis(cluster)])
        try {
          const [a, b] = await pair(ca, {}, cb)
          expect(await inFlightRace(a, b, how)).toEqual([2, 2, 2, 2])
        } finally {
          await Promise.all(open.splice(0).map((c) => c.close()))
          await Promise.all([ca.close(), cb.close()])
        }
      })
    }
  }

  for (const how of ['set', 'delete', 'expire'] as const) {
    it(`${how}: the same with lock.strategy redlock (the lease beside the entry fences)`, async () => {
      const lockClient = new Redis(sharedRedis().url)
      try {
        const [a, b] = await pair(sharedRedis().url, { lock: { strategy: 'redlock', clients: [lockClient] } })
        expect(await inFlightRace(a, b, how)).toEqual([2, 2, 2, 2])
      } finally {
        lockClient.disconnect()
      }
    })
  }

  for (const how of INVALIDATIONS) {
    it(`${how}: the same on the embedded store, in one process`, async () => {
      const c = cache({ prefix: uniquePrefix(), l1: { max: 100 } })
      expect(await inFlightRace(c, c, how)).toEqual([2, 2, 2, 2])
    })
  }
})

describe('in-process fences', () => {
  it('getOrSet after delete() does not join a refresh that began before it, nor get the deleted value when its own load fails', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix(), ttl: 50, staleTtl: '1m' })
    const key = uniqueKey('bg')
    await c.getOrSet(key, () => 'v1')
    await sleep(80) // stale now
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    // Serves v1 stale and starts a background refresh that will fail.
    expect(
      await c.getOrSet(key, async () => {
        await gate
        throw new Error('db down')
      }),
    ).toBe('v1')
    await c.delete(key)
    const after = c.getOrSet(key, async () => {
      throw new Error('still down')
    })
    release()
    await expect(after).rejects.toThrow('still down')
  })

  it("a read in flight when another process's invalidation arrives does not fill L1 with the old entry", async () => {
    const proxy = await delayingProxy(sharedRedis().port)
    try {
      const prefix = uniquePrefix()
      const a = cache({ redis: sharedRedis().url, prefix, l1: { max: 100 } })
      const b = cache({ redis: `redis://127.0.0.1:${proxy.port}`, prefix, l1: { max: 100 } })
      await Promise.all([a, b].map((c) => new Promise<void>((r) => c.once('bus:ready', () => r()))))
      const key = uniqueKey('slow-read')
      await a.set(key, 'v1')
      proxy.delay = 150 // B's data replies now arrive 150 ms late; its bus messages do not
      const read = b.get(key) // GET answered with v1 by Redis, delivered late
      await sleep(30)
      await a.set(key, 'v2') // B's bus message arrives before its GET reply
      expect(await read).toBe('v1') // began before the set: allowed
      proxy.delay = 0
      const seen = await b.getOrSetResult(key, () => 'loader')
      expect(seen).toEqual({ value: 'v2', source: 'l2' }) // not 'v1' from L1
    } finally {
      await proxy.close()
    }
  })

  it('getMany and getOrSetMany honour tag invalidation', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix() })
    const keys = [uniqueKey('m1'), uniqueKey('m2')]
    let version = 1
    await c.getOrSetMany(keys, (ks) => ks.map(() => version), { tags: ['batch'] })
    version = 2
    await c.invalidateTags('batch')
    expect(await c.getMany(keys)).toEqual([undefined, undefined])
    let loads = 0
    expect(
      await c.getOrSetMany(
        keys,
        (ks) => {
          loads++
          return ks.map(() => version)
        },
        { tags: ['batch'] },
      ),
    ).toEqual([2, 2])
    expect(loads).toBe(1)
  })

  it('the stale-if-error backoff never makes an entry fresh that expire() marked stale meanwhile', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix(), ttl: 50, staleTtl: '1m' })
    const key = uniqueKey('backoff')
    await c.getOrSet(key, () => 'v1')
    await sleep(80)
    let fail: () => void = () => {}
    const failing = new Promise<never>((_, reject) => {
      fail = () => reject(new Error('db down'))
    })
    const refreshing = new Promise<void>((resolve) => c.once('lock:acquired', () => resolve()))
    expect(await c.getOrSet(key, () => failing)).toBe('v1') // stale; refresh in background
    await refreshing
    await c.set(key, 'v2')
    await c.expire(key) // v2 is stale now; the failing refresh must not touch it
    const failed = new Promise<void>((resolve) => c.once('load:error', () => resolve()))
    fail()
    await failed
    await sleep(50)
    expect((await c.inspect(key))?.state).toBe('stale')
  })

  it('inspect() agrees with has() after invalidateTags', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix() })
    const key = uniqueKey('inspect')
    await c.getOrSet(key, () => 1, { tags: ['i'] })
    expect([(await c.inspect(key))?.state, await c.has(key)]).toEqual(['fresh', true])
    await c.invalidateTags('i')
    expect([(await c.inspect(key))?.state, await c.has(key)]).toEqual(['stale', false])
  })

  it('a tag-invalidated entry is not served while another process reloads it', async () => {
    // A generous redisTimeout: on a busy machine B's lease call must not time out (B would then
    // load unleased and A would rightly take the lease itself).
    const [a, b] = await pair(sharedRedis().url, { redisTimeout: '5s' })
    const key = uniqueKey('tagwait')
    await a.getOrSet(key, () => 'old', { tags: ['t'] })
    await a.invalidateTags('t')
    let started!: () => void
    const holding = new Promise<void>((r) => {
      started = r
    })
    const reloading = b.getOrSet(
      key,
      async () => {
        started() // B holds the lease now (no sleep: a busy machine must not decide the test)
        await sleep(200)
        return 'new'
      },
      { tags: ['t'] },
    )
    await holding
    const seen = await a.getOrSetResult(key, () => 'a-loader', { tags: ['t'] })
    expect(seen).toEqual({ value: 'new', source: 'peer' })
    expect(await reloading).toBe('new')
  })

  it('a reload in the millisecond of the tag invalidation it follows stores a valid entry (100 rounds)', async () => {
    // A tag time at or after createdAt invalidates (ms clocks): a load begun in that same
    // millisecond stored an entry born invalidated, so the next reader loaded again (the test
    // above failed that way on fast runs, about 1 round in 3).
    const [a, b] = await pair(sharedRedis().url, { redisTimeout: '5s' })
    let extra = 0
    for (let round = 0; round < 100; round++) {
      const key = uniqueKey('tagms')
      await a.getOrSet(key, () => 'old', { tags: ['t'] })
      await a.invalidateTags('t')
      expect(await b.getOrSet(key, () => 'new', { tags: ['t'] })).toBe('new')
      const seen = await a.getOrSetResult(key, () => 'again', { tags: ['t'] })
      if (seen.source === 'loader') extra++
      expect(seen.value).not.toBe('old')
    }
    expect(extra).toBe(0)
  })
})

describe('failed writes', () => {
  let server: RedisServer | undefined
  afterAll(async () => {
    await server?.stop()
  })

  it("a set() that fails open drops the key from the writer's L1 and tells the other processes", async () => {
    server = await startRedis()
    const admin = new Redis(server.port)
    try {
      await admin.call('ACL', 'SETUSER', 'noscript', 'on', 'nopass', '~*', '&*', '+@all', '-evalsha', '-eval')
      const prefix = uniquePrefix()
      const writer = cache({ redis: `redis://noscript@127.0.0.1:${server.port}`, prefix, l1: { max: 100 } })
      const other = cache({ redis: server.url, prefix, l1: { max: 100 } })
      await Promise.all([writer, other].map((c) => new Promise<void>((r) => c.once('bus:ready', () => r()))))
      const key = uniqueKey('failset')
      let seenSet = false
      writer.on('bus:received', (m) => {
        if (m.type === 'set') seenSet = true
      })
      await other.set(key, 'v1')
      // The writer's L1 fill must come after other's 'set' message has dropped it there.
      await waitUntil('the set message', () => seenSet || 'not yet', { timeoutMs: 2_000 })
      expect(await writer.get(key)).toBe('v1')
      expect(await other.get(key)).toBe('v1')
      expect([writer.l1Size, other.l1Size]).toEqual([1, 1])
      const errors: string[] = []
      writer.on('error', (e) => errors.push(e.error.code))
      await writer.set(key, 'v2') // refused (NOPERM): fails open
      expect(errors).toContain('E_STORE_UNAVAILABLE')
      expect(writer.l1Size).toBe(0)
      await waitUntil('the other L1 drop', () => other.l1Size === 0 || `l1Size ${other.l1Size}`, {
        timeoutMs: 2_000,
      })
    } finally {
      admin.disconnect()
    }
  })

  it('failOpen: false rejects a getOrSet whose write failed after the loader ran; failOpen: true answers', async () => {
    const own = await startRedis()
    try {
      for (const failOpen of [false, true]) {
        const c = cache({
          redis: own.url,
          prefix: uniquePrefix(),
          failOpen,
          breaker: false,
          redisTimeout: 300,
        })
        c.on('error', () => {})
        await c.get(uniqueKey('warm'))
        const result = c.getOrSet(uniqueKey('w'), async () => {
          await own.kill() // Redis dies while the loader runs: the write cannot land
          return 'value'
        })
        if (failOpen) expect(await result).toBe('value')
        else await expect(result).rejects.toMatchObject({ code: 'E_STORE_UNAVAILABLE' })
        await own.restart()
      }
    } finally {
      await own.stop()
    }
  })
})

/**
 * A TCP proxy to Redis that can delay server-to-client bytes on data connections. Connections
 * that subscribe (the bus) are never delayed, so invalidation messages overtake data replies.
 */
async function delayingProxy(
  target: number,
): Promise<{ port: number; delay: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const state = { delay: 0 }
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    let subscriber = false
    client.on('data', (chunk) => {
      if (/subscribe/i.test(chunk.toString('latin1'))) subscriber = true
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      const d = subscriber ? 0 : state.delay
      if (d === 0) client.write(chunk)
      else setTimeout(() => client.write(chunk), d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    get delay() {
      return state.delay
    },
    set delay(ms: number) {
      state.delay = ms
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
