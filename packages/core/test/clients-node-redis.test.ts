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
import { createClient, createCluster } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache, isCacheError } from '../src/index'
import { adaptClient } from '../src/store/adapt'
import { TopologyMonitor } from '../src/tools'

/*
 * node-redis 5 handed in as an instance, the cells of issue 17's table: a cold stampede across
 * two caches (each with its own connection, as two processes would have), tags, the user's client
 * left open, plus what the seam itself must get right (slot owner for the per-primary circuit).
 */

type Standalone = ReturnType<typeof createClient>
type ClusterClient = ReturnType<typeof createCluster>
type Backend = 'standalone' | 'cluster'

async function connect(backend: Backend): Promise<Standalone | ClusterClient> {
  const c =
    backend === 'standalone'
      ? createClient({ url: sharedRedis().url })
      : createCluster({
          rootNodes: sharedCluster().startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
        })
  c.on('error', () => {})
  await c.connect()
  return c
}

describe.each<Backend>(['standalone', 'cluster'])('node-redis 5 %s', (backend) => {
  const clients: Array<Standalone | ClusterClient> = []
  const caches: Cache[] = []
  const errors: unknown[] = []
  beforeAll(async () => {
    clients.push(await connect(backend), await connect(backend))
  })
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()))
    expect(errors.splice(0)).toEqual([])
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
  })
  function cache(i: number, options: CacheOptions = {}): Cache {
    const c = createCache({ redis: clients[i], jitter: 0, redisTimeout: '2s', ...options })
    c.on('error', (e) => errors.push(e.error))
    caches.push(c)
    return c
  }

  it('a cold stampede of 2 caches x 100 callers runs the loader once', async () => {
    const prefix = uniquePrefix()
    const [a, b] = [cache(0, { prefix }), cache(1, { prefix })]
    const key = uniqueKey('cold')
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(200)
      return { n: calls }
    }
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet(key, loader)),
    )
    expect(calls).toBe(1)
    expect(answers.every((v) => v.n === 1)).toBe(true)
  })

  it('a burst of 60 cold keys then 60 hits: one load each, every value stored and read back (batched calls on one server)', async () => {
    const c = cache(0, { prefix: uniquePrefix(), l1: false })
    const keys = Array.from({ length: 60 }, (_, i) => uniqueKey(`burst${i}`))
    let calls = 0
    const first = await Promise.all(
      keys.map((k, i) =>
        c.getOrSetResult(k, () => {
          calls++
          return { i, bytes: Buffer.from([0, 255, i]) }
        }),
      ),
    )
    expect(calls).toBe(60)
    expect(first.every((r) => r.source === 'loader')).toBe(true)
    const again = await Promise.all(
      keys.map((k) => c.getOrSetResult<{ i: number; bytes: Buffer } | null>(k, () => null)),
    )
    expect(again.map((r) => r.source)).toEqual(keys.map(() => 'l2'))
    expect(again.map((r) => r.value?.i)).toEqual(keys.map((_, i) => i))
    expect(
      again.every(
        (r, i) => Buffer.compare(r.value?.bytes ?? Buffer.alloc(0), Buffer.from([0, 255, i])) === 0,
      ),
    ).toBe(true)
  })

  it('stores binary-safe entries, invalidates tags and patterns through the client', async () => {
    const prefix = uniquePrefix()
    const [a, b] = [cache(0, { prefix, l1: false }), cache(1, { prefix, l1: false })]
    const key = uniqueKey('tag')
    const bytes = Buffer.from([0, 255, 13, 10, 215, 0])
    await a.set(key, bytes, { tags: ['t1'] })
    expect(Buffer.compare((await b.get(key)) as Buffer, bytes)).toBe(0)
    await b.invalidateTags('t1')
    expect(await a.getOrSet(key, () => 'reloaded', { tags: ['t1'] })).toBe('reloaded')
    await a.set(`${key}:x`, 1)
    expect(await b.invalidatePattern(`${key}*`)).toBe(2)
    expect(await a.get(key)).toBeUndefined()
  })

  it('keeps L1 coherent across caches through the bus (delete, set, tags)', async () => {
    const prefix = uniquePrefix()
    const [a, b] = [cache(0, { prefix, l1: { max: 100 } }), cache(1, { prefix, l1: { max: 100 } })]
    await Promise.all([a, b].map((c) => new Promise<void>((r) => c.once('bus:ready', () => r()))))
    const key = uniqueKey('l1')
    let l1Hits = 0
    a.on('hit', (e) => {
      if (e.tier === 'l1') l1Hits++
    })
    const warm = async (value: string) => {
      await b.set(key, value, { tags: ['t'] })
      await waitUntil('A to read the value', async () => (await a.get(key)) === value || 'not yet', {
        timeoutMs: 2_000,
      })
      // A tagged entry is an L1 hit once its tag times are known in-process (fetched after the
      // first fill): read until A serves it from L1, so only the bus can drop it there.
      const before = l1Hits
      for (let i = 0; i < 20 && l1Hits === before; i++) expect(await a.get(key)).toBe(value)
      expect(l1Hits).toBeGreaterThan(before)
    }
    await warm('v1')
    await b.delete(key)
    await waitUntil('A to see the delete', async () => (await a.get(key)) === undefined || 'still there', {
      timeoutMs: 1_000,
      intervalMs: 20,
    })
    await warm('v2')
    await b.set(key, 'v3')
    await waitUntil('A to see v3', async () => (await a.get(key)) === 'v3' || 'not yet', {
      timeoutMs: 1_000,
      intervalMs: 20,
    })
    await warm('v4')
    await b.invalidateTags('t')
    await waitUntil(
      'A to drop the tagged entry',
      async () => (await a.get(key)) === undefined || 'still there',
      {
        timeoutMs: 1_000,
        intervalMs: 20,
      },
    )
  })

  it("leaves the user's client open after close()", async () => {
    const c = cache(0, { prefix: uniquePrefix() })
    await c.set(uniqueKey('open'), 1)
    await c.close()
    expect(clients[0]?.isOpen).toBe(true)
    const k = uniqueKey('after')
    await clients[0]?.set(k, 'still here')
    expect(await clients[0]?.get(k)).toBe('still here')
  })

  it('names the primary that owns a key (the per-primary circuit)', async () => {
    const seam = adaptClient(clients[0])
    const key = uniqueKey('slot')
    if (backend === 'standalone') {
      expect(seam.slotOwner(key)).toBe('')
      return
    }
    const owner = seam.slotOwner(key)
    expect(seam.primaries().map((p) => p.address)).toContain(owner)
    // The owner answers for the key without a redirect: GET on its own connection succeeds.
    const node = seam.primaries().find((p) => p.address === owner)
    expect(await node?.text(['GET', key]).catch((e: Error) => e.message)).not.toMatch(/MOVED/)
  })
})

describe('node-redis 5 with Redis stopped mid-run', () => {
  let server: RedisServer | undefined
  afterAll(async () => {
    await server?.stop()
  })

  it('answers every call from the loader (fail-open, coded errors), and uses Redis again after a restart', async () => {
    server = await startRedis()
    const c = createClient({ url: server.url })
    c.on('error', () => {})
    await c.connect()
    const codes: string[] = []
    const cache = createCache({
      redis: c,
      prefix: uniquePrefix(),
      breaker: { threshold: 5, cooldown: '300ms' },
    })
    cache.on('error', (e) => codes.push(e.error.code))
    try {
      const key = uniqueKey('down')
      expect(await cache.getOrSet(key, () => 'warm')).toBe('warm')
      await server.kill()
      const got = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => cache.getOrSet(uniqueKey('d'), () => i)),
      )
      expect(got.every((r, i) => r.status === 'fulfilled' && r.value === i)).toBe(true)
      expect(codes.length).toBeGreaterThan(0)
      expect(
        codes.every((x) => ['E_STORE_TIMEOUT', 'E_STORE_UNAVAILABLE', 'E_CIRCUIT_OPEN'].includes(x)),
      ).toBe(true)
      const strict = await cache
        .getOrSet(uniqueKey('s'), () => 1, { failOpen: false })
        .catch((e: unknown) => e)
      expect(isCacheError(strict, 'E_STORE_UNAVAILABLE')).toBe(true)

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
    } finally {
      await cache.close()
      await c.close().catch(() => c.destroy())
    }
  })
})

describe('node-redis 5 after SCRIPT FLUSH', () => {
  it('falls back from EVALSHA to EVAL (NOSCRIPT) and keeps the lease protocol working', async () => {
    const own = await startRedis()
    const [c1, c2] = [createClient({ url: own.url }), createClient({ url: own.url })]
    for (const c of [c1, c2]) c.on('error', () => {})
    await Promise.all([c1.connect(), c2.connect()])
    const prefix = uniquePrefix()
    const errors: unknown[] = []
    const [a, b] = [createCache({ redis: c1, prefix }), createCache({ redis: c2, prefix })]
    for (const x of [a, b]) x.on('error', (e) => errors.push(e.error))
    try {
      await a.set(uniqueKey('warm'), 1) // scripts loaded and used once
      await c1.sendCommand(['SCRIPT', 'FLUSH'])
      const key = uniqueKey('flushed')
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(100)
        return 'v'
      }
      const got = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).getOrSet(key, loader)),
      )
      expect(got.every((v) => v === 'v')).toBe(true)
      expect(calls).toBe(1)
      const stats = String(await c1.sendCommand(['INFO', 'commandstats']))
      expect(stats).toMatch(/cmdstat_eval:calls=[1-9]/) // the fallback really ran
      expect(errors).toEqual([])
    } finally {
      await Promise.all([a.close(), b.close()])
      await Promise.all([c1.close(), c2.close()])
      await own.stop()
    }
  })
})

describe('topology monitor on node-redis 5', () => {
  it('reports the 3+3 cluster: every primary with its slots and memory, state ok', async () => {
    const c = await connect('cluster')
    const errors: unknown[] = []
    const monitor = new TopologyMonitor(c, { pollInterval: '1h', onError: (e) => errors.push(e) })
    try {
      const snap = await monitor.refresh()
      expect(snap?.mode).toBe('cluster')
      expect(snap?.state).toBe('ok')
      expect(snap?.slotsAssigned).toBe(16_384)
      const expected = sharedCluster().nodes
      expect(snap?.nodes.map((n) => n.id).sort()).toEqual(expected.map((n) => n.id).sort())
      for (const want of expected.filter((n) => n.role === 'primary')) {
        const got = snap?.nodes.find((n) => n.id === want.id)
        expect(got?.address).toBe(`${want.host}:${want.port}`)
        expect(got?.slots).toEqual(want.slots)
        expect(got?.reachable).toBe(true)
        expect(got?.usedMemory).toBeGreaterThan(0)
      }
      expect(errors).toEqual([])
    } finally {
      await monitor.stop()
      await c.close()
    }
  })

  it.each([2, 3] as const)(
    'reports a standalone server as one primary covering every slot (RESP%i)',
    async (resp) => {
      const c = createClient({ url: sharedRedis().url, RESP: resp })
      c.on('error', () => {})
      await c.connect()
      const monitor = new TopologyMonitor(c, { pollInterval: '1h' })
      try {
        const snap = await monitor.refresh()
        expect(snap?.mode).toBe('standalone')
        expect(snap?.state).toBe('ok')
        expect(snap?.nodes[0]?.address).toBe(`${sharedRedis().host}:${sharedRedis().port}`)
        expect(snap?.nodes[0]?.slots).toEqual([[0, 16_383]])
        expect(snap?.nodes[0]?.usedMemory).toBeGreaterThan(0)
      } finally {
        await monitor.stop()
        await c.close()
      }
    },
  )
})

describe('node-redis clients Herdless cannot use', () => {
  it('a client that was never connected: E_INVALID_OPTION saying to connect it', () => {
    const c = createClient({ url: sharedRedis().url })
    let caught: unknown
    try {
      createCache({ redis: c })
    } catch (e) {
      caught = e
    }
    expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
    expect(String((caught as Error).message)).toMatch(/connect\(\)/)
  })
  it("lock strategy 'redlock' with node-redis lock clients: E_INVALID_OPTION naming ioredis", async () => {
    const c = createClient({ url: sharedRedis().url })
    c.on('error', () => {})
    await c.connect()
    let caught: unknown
    try {
      createCache({ redis: c, lock: { strategy: 'redlock', clients: [c as never] } })
    } catch (e) {
      caught = e
    } finally {
      await c.close()
    }
    expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
    expect(String((caught as Error).message)).toMatch(/does not support node-redis/)
  })
})
