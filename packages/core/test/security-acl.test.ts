import { type RedisServer, startRedis, uniqueKey, waitUntil } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache, type ErrorCode } from '../src/index'

/**
 * The tightest line Herdless runs under (standalone): no categories, because `+@write` carries
 * FLUSHALL and `+@read` carries KEYS. The Lua scripts' own calls (DEL, GETRANGE, SETRANGE,
 * PEXPIRE) are checked against the user's ACL too, so they are listed. Keep docs/security.md
 * in step with this line.
 */
const COMMANDS =
  '-@all +get +mget +set +del +unlink +getrange +setrange +pexpire +evalsha +eval +scan ' +
  '+publish +subscribe +info'
const aclLine = (user: string, password: string, prefix: string, commands = COMMANDS) =>
  `${user} reset on >${password} ~${prefix}:* &${prefix}:* ${commands}`

const acl = (admin: Redis, line: string) => admin.call('ACL', 'SETUSER', ...line.split(' '))

const readyBus = (cache: Cache) => new Promise<void>((resolve) => cache.once('bus:ready', () => resolve()))

interface Tenant {
  caches: [Cache, Cache]
  errors: Array<{ code: ErrorCode; operation: string; message: string }>
}

function tenant(server: RedisServer, name: string, extra: Partial<CacheOptions> = {}): Tenant {
  const t: Tenant = {
    caches: [0, 1].map(() =>
      createCache({
        redis: `redis://tenant-${name}:pw-${name}@127.0.0.1:${server.port}`,
        prefix: name,
        l1: { max: 100 },
        // Zero errors is asserted: a command slower than the default 250 ms on a busy machine
        // would fail open and count as one.
        redisTimeout: '5s',
        ...extra,
      }),
    ) as [Cache, Cache],
    errors: [],
  }
  for (const c of t.caches) {
    c.on('error', (e) =>
      t.errors.push({ code: e.error.code, operation: e.operation, message: e.error.message }),
    )
  }
  return t
}

/** Every feature, across two caches (two connections each) of one tenant; returns what it saw. */
async function fullFeatureSet(t: Tenant) {
  const [c1, c2] = t.caches
  // Stampede: 50 concurrent calls over two independent caches, one loader call (SET NX lock + bus wake-up).
  let loads = 0
  const key = uniqueKey('stampede')
  const loader = async () => {
    loads++
    await new Promise((r) => setTimeout(r, 150))
    return 'loaded-once'
  }
  const got = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? c1 : c2).getOrSet(key, loader)))
  expect(got.every((v) => v === 'loaded-once')).toBe(true)
  expect(loads).toBe(1)

  // Bus: c2 holds the value in L1; c1's overwrite reaches it.
  const busKey = uniqueKey('bus')
  await c1.set(busKey, 'v1')
  // c1's 'set' message may land at c2 while c2's read is in flight: that read's L1 fill is then
  // (rightly) fenced, so read until the copy is held.
  await waitUntil(
    'c2 holds v1 in L1',
    async () => ((await c2.get(busKey)) === 'v1' && c2.l1Size > 0) || 'not yet',
    {
      timeoutMs: 2_000,
    },
  )
  await c1.set(busKey, 'v2')
  await waitUntil('c2 sees v2', async () => (await c2.get(busKey)) === 'v2' || 'not yet', {
    timeoutMs: 2_000,
  })

  // Tags.
  let tagLoads = 0
  const tagged = uniqueKey('tagged')
  const tagLoader = () => ++tagLoads
  await c1.getOrSet(tagged, tagLoader, { tags: ['users'] })
  await c2.getOrSet(tagged, tagLoader, { tags: ['users'] })
  expect(tagLoads).toBe(1)
  await c1.invalidateTags('users')
  // c2's L1 learns the tag time over the bus, a moment after c1's write.
  await waitUntil(
    'c2 reloads the tagged entry',
    async () => (await c2.getOrSet(tagged, tagLoader, { tags: ['users'] })) === 2 || 'not yet',
    { timeoutMs: 2_000 },
  )
  expect(tagLoads).toBe(2)

  // Expire (the MARK_STALE script) and delete.
  await c1.set('exp', 'x')
  expect(await c1.expire('exp')).toBe(1)
  expect(await c1.delete('exp')).toBe(1)

  // Pattern and clear (SCAN + UNLINK).
  await Promise.all(['user:1', 'user:2', 'order:1'].map((k) => c1.set(k, k)))
  expect(await c2.invalidatePattern('user:*')).toBe(2)
  expect(await c1.get('order:1')).toBe('order:1')
  expect(await c1.clear()).toBeGreaterThan(0)
  expect(await c2.get('order:1')).toBeUndefined()
}

describe('two tenants on one Redis, one ACL user each', () => {
  let server: RedisServer
  let admin: Redis
  beforeAll(async () => {
    server = await startRedis()
    admin = new Redis(server.port, '127.0.0.1')
    await acl(admin, aclLine('tenant-a', 'pw-a', 'a'))
    await acl(admin, aclLine('tenant-b', 'pw-b', 'b'))
  })
  afterAll(async () => {
    await admin?.quit()
    await server?.stop()
  })

  it('both run the full feature set under the tight ACL line with zero errors', async () => {
    const a = tenant(server, 'a')
    const b = tenant(server, 'b')
    try {
      await Promise.all([...a.caches, ...b.caches].map(readyBus))
      await Promise.all([fullFeatureSet(a), fullFeatureSet(b)])
      // Any command missing from the line would have surfaced as an error event.
      expect(a.errors).toEqual([])
      expect(b.errors).toEqual([])
    } finally {
      await Promise.all([...a.caches, ...b.caches].map((c) => c.close()))
    }
  })

  it("tenant A cannot read, overwrite, invalidate or flush B's entries", async () => {
    const b = createCache({ redis: `redis://tenant-b:pw-b@127.0.0.1:${server.port}`, prefix: 'b', l1: false })
    const rawA = new Redis({ host: '127.0.0.1', port: server.port, username: 'tenant-a', password: 'pw-a' })
    const aAsB = tenant(server, 'a', { prefix: 'b', l1: false })
    const a = tenant(server, 'a')
    try {
      for (const k of ['secret', 'user:1', '*']) await b.set(k, `b:${k}`)
      await b.invalidateTags('t')
      const bKeys = async () => (await admin.keys('b:*')).sort()
      const before = await bKeys()
      expect(before).toEqual(expect.arrayContaining(['b:{secret}', 'b:{user:1}', 'b:{*}', 'b:tag:{t}']))
      const bEntry = b.entryKey('secret')

      // Raw commands as tenant-a on B's keys and channel: all NOPERM.
      const denied = async (p: Promise<unknown>) => {
        const err = await p.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(String(err)).toMatch(/NOPERM|can't access/)
      }
      await denied(rawA.get(bEntry))
      await denied(rawA.set(bEntry, 'forged'))
      await denied(rawA.del(bEntry))
      await denied(rawA.unlink(bEntry))
      await denied(rawA.publish('b:bus', 'forged'))
      await denied(rawA.call('FLUSHALL'))
      await denied(rawA.call('FLUSHDB'))
      await denied(rawA.call('KEYS', '*'))
      await denied(rawA.call('CONFIG', 'SET', 'requirepass', 'x'))
      // A script runs with its caller's rights, including the keys it touches.
      await denied(rawA.eval("return redis.call('GET', KEYS[1])", 1, bEntry))
      await denied(rawA.eval(`return redis.call('DEL', '${bEntry}')`, 1, 'a:x'))
      const sub = rawA.duplicate()
      await denied(sub.subscribe('b:bus'))
      sub.disconnect()

      // Through the cache API, with B's prefix: the loader answers, B's value is never read nor replaced.
      const [spy] = aAsB.caches
      expect(await spy.getOrSet('secret', () => 'spy-loader')).toBe('spy-loader')
      await spy.set('secret', 'overwritten')
      await spy.delete('secret')
      await spy.invalidateTags('t')
      expect(await spy.invalidatePattern('*')).toBe(0)
      expect(await spy.clear()).toBe(0)
      const codes = new Set(aAsB.errors.map((e) => e.code))
      expect(codes).toEqual(new Set(['E_STORE_UNAVAILABLE']))
      expect(aAsB.errors.every((e) => /NOPERM|can't access/.test(e.message))).toBe(true)
      expect(aAsB.errors.length).toBeGreaterThanOrEqual(6)

      // A's own clear() and invalidatePattern('*') stay inside a:*. (Cleared first: a failed
      // earlier test of tenant a may have left its keys.)
      await a.caches[0].clear()
      await a.caches[0].set('mine', 1)
      expect(await a.caches[0].invalidatePattern('*')).toBe(1)
      await a.caches[0].clear()
      expect(a.errors).toEqual([])

      expect(await bKeys()).toEqual(before)
      expect(await b.get('secret')).toBe('b:secret')
      expect(await b.get('*')).toBe('b:*')
    } finally {
      await Promise.all([
        b.close(),
        rawA.quit(),
        ...aAsB.caches.map((c) => c.close()),
        ...a.caches.map((c) => c.close()),
      ])
    }
  })

  it('SCAN is keyless: a tenant with +scan can list (not read) key NAMES of other prefixes', async () => {
    // Documented in docs/security.md: drop +scan (losing invalidatePattern and clear) where names are secret.
    const rawA = new Redis({ host: '127.0.0.1', port: server.port, username: 'tenant-a', password: 'pw-a' })
    const b = createCache({
      redis: `redis://tenant-b:pw-b@127.0.0.1:${server.port}`,
      prefix: 'b',
      bus: false,
    })
    try {
      await b.set('visible-name', 1)
      const [, names] = await rawA.scan('0', 'MATCH', 'b:*', 'COUNT', 1000)
      expect(names).toContain(b.entryKey('visible-name'))
    } finally {
      await Promise.all([b.close(), rawA.quit()])
    }
  })
})

describe('denied commands degrade cleanly', () => {
  let server: RedisServer
  let admin: Redis
  beforeAll(async () => {
    server = await startRedis()
    admin = new Redis(server.port, '127.0.0.1')
  })
  afterAll(async () => {
    await admin?.quit()
    await server?.stop()
  })

  it('without +info, +scan and +publish: getOrSet still answers, coded error events, no throw', async () => {
    const commands = COMMANDS.replace(' +info', '').replace(' +scan', '').replace('+publish ', '')
    expect(commands).not.toMatch(/info|scan|publish/)
    await acl(admin, aclLine('tenant-c', 'pw-c', 'c', commands))
    const warn = console.warn
    const warnings: string[] = []
    // ioredis skips its INFO ready check on NOPERM with a console.warn.
    console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '))
    const t = tenant(server, 'c', { topology: { pollInterval: '50ms' } })
    const [c1, c2] = t.caches
    try {
      // No bus:ready to wait for: without +publish no heartbeat comes back, so the bus never
      // vouches for L1 (reads go to Redis), which is the safe answer.
      let loads = 0
      const loader = () => ++loads
      expect(await c1.getOrSet('k', loader)).toBe(1)
      expect(await c2.getOrSet('k', loader)).toBe(1) // from L2
      expect(loads).toBe(1)
      await c1.set('k2', 'v')
      expect(await c1.invalidatePattern('*')).toBe(0)
      expect(await c1.clear()).toBe(0)
      await waitUntil(
        'topology and publish errors',
        () => {
          const ops = new Set(t.errors.map((e) => e.operation))
          return (ops.has('topology') && ops.has('bus:publish')) || [...ops].join(',')
        },
        { timeoutMs: 3_000 },
      )
      expect(await c2.getOrSet('k', () => -1)).toBe(1)
      const ops = new Set(t.errors.map((e) => e.operation))
      expect(ops).toEqual(new Set(['topology', 'bus:publish', 'pattern', 'clear']))
      for (const e of t.errors) {
        expect(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT']).toContain(e.code)
        expect(e.message).toMatch(/NOPERM|no permissions/i)
      }
    } finally {
      await Promise.all(t.caches.map((c) => c.close()))
      console.warn = warn
    }
    expect(warnings.some((w) => /NOPERM/.test(w))).toBe(true)
  })
})
