import { type Cache, type CacheOptions, createCache, isCacheError } from '@herdless/core'
import {
  type RedisServer,
  sharedRedis,
  startRedis,
  uniqueKey,
  uniquePrefix,
  waitUntil,
} from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// The class is internal (createCache builds it from `lock`); tested here on its own.
import { RedlockLock } from '../src/lock/redlock-lock'
import { ensureCoreDist, Fleet, mergeCounts, total, type WorkerConfig } from './fixtures/fleet'

/**
 * `lock: { strategy: 'redlock', clients }` over 3 private, independent redis-servers (the
 * quorum); entries live on the shared standalone server. The lock servers are private because
 * one test stops two of them.
 */
let servers: RedisServer[] = []
let clients: Redis[] = []
const caches: Cache[] = []
const fleet = new Fleet()

beforeAll(async () => {
  servers = await Promise.all([startRedis(), startRedis(), startRedis()])
  clients = servers.map((s) => new Redis(s.url, { maxRetriesPerRequest: 1 }))
  // These clients reconnect on their own after a server stop: keep ioredis quiet about it.
  for (const c of clients) c.on('error', () => {})
  await ensureCoreDist()
}, 180_000)
afterEach(async () => {
  await fleet.killAll()
  await Promise.all(caches.splice(0).map((c) => c.close()))
})
afterAll(async () => {
  for (const c of clients) c.disconnect()
  await Promise.all(servers.map((s) => s.stop()))
})

function redlockCache(
  prefix: string,
  lockClients: Redis[] = clients,
  redlock?: NonNullable<CacheOptions['lock']>['redlock'],
): Cache {
  const c = createCache({
    redis: sharedRedis().url,
    prefix,
    jitter: 0,
    redisTimeout: '2s',
    lock: { strategy: 'redlock', clients: lockClients, wait: 10_000, onTimeout: 'throw', redlock },
  })
  caches.push(c)
  return c
}

/** How many of the 3 lock servers hold `key` right now. */
async function holders(key: string): Promise<number> {
  const found = await Promise.all(clients.map((c) => c.exists(key)))
  return found.reduce((a, b) => a + b, 0)
}

describe('RedlockLock', () => {
  it('acquires on a quorum, refuses a second token, extends, releases', async () => {
    const lock = new RedlockLock(clients)
    const key = `${uniquePrefix()}:{k}:lock`
    expect(lock.quorum).toBe(2)

    // redlock answers once a majority has voted; the last server follows a moment later.
    expect(await lock.acquire(key, 'a', 1_000)).toBe(true)
    expect(await holders(key)).toBeGreaterThanOrEqual(2)
    await waitUntil('all 3 servers to hold it', async () => ((await holders(key)) === 3 ? true : 'not yet'))
    expect(await lock.acquire(key, 'b', 1_000)).toBe(false)
    expect(await lock.extend(key, 'a', 5_000)).toBe(true)
    const ttls = await Promise.all(clients.map((c) => c.pttl(key)))
    // Extended past the first TTL on a majority.
    expect(ttls.filter((t) => t > 1_000).length).toBeGreaterThanOrEqual(2)
    expect(await lock.extend(key, 'b', 5_000)).toBe(false) // not b's lock

    await lock.release(key, 'a')
    await waitUntil('released everywhere', async () => ((await holders(key)) === 0 ? true : 'not yet'))
    expect(await lock.acquire(key, 'b', 1_000)).toBe(true)
    await lock.close()
    // close() gives back what this process held.
    await waitUntil('released by close()', async () => ((await holders(key)) === 0 ? true : 'not yet'))
    expect(clients.every((c) => c.status === 'ready')).toBe(true) // and never quits the clients
  })

  it('a lock lost on the servers is reported as lost by extend()', async () => {
    const lock = new RedlockLock(clients)
    const key = `${uniquePrefix()}:{k}:lock`
    expect(await lock.acquire(key, 'a', 5_000)).toBe(true)
    // Expired and taken by someone else on a majority.
    await Promise.all(clients.slice(0, 2).map((c) => c.set(key, 'someone-else', 'PX', 5_000)))
    expect(await lock.extend(key, 'a', 5_000)).toBe(false)
    await Promise.all(clients.map((c) => c.del(key)))
  })

  it('rejects anything but a non-empty array of ioredis clients with E_INVALID_OPTION', () => {
    for (const bad of [[], [{}], ['redis://127.0.0.1:1'], undefined]) {
      let caught: unknown
      try {
        new RedlockLock(bad as unknown as Redis[])
      } catch (err) {
        caught = err
      }
      expect(isCacheError(caught) && caught.code).toBe('E_INVALID_OPTION')
    }
    let caught: unknown
    try {
      createCache({ lock: { strategy: 'redlock', clients: [{} as Redis] } })
    } catch (err) {
      caught = err
    }
    expect(isCacheError(caught) && caught.code).toBe('E_INVALID_OPTION')
  })
})

describe("lock strategy 'redlock'", () => {
  it('lock.redlock reaches the quorum lock through createCache; bad values are E_INVALID_OPTION', async () => {
    const optionOf = (lock: CacheOptions['lock']): string | undefined => {
      try {
        caches.push(createCache({ redis: sharedRedis().url, lock }))
      } catch (err) {
        return isCacheError(err) && err.code === 'E_INVALID_OPTION'
          ? (err as { option?: string }).option
          : 'not coded'
      }
      return undefined
    }
    const redlock = { strategy: 'redlock' as const, clients }
    expect(optionOf({ ...redlock, redlock: { driftFactor: 0.5 } })).toBe('lock.redlock.driftFactor')
    expect(optionOf({ ...redlock, redlock: { driftFactor: -0.1 } })).toBe('lock.redlock.driftFactor')
    expect(optionOf({ ...redlock, redlock: { driftFactor: '1%' as never } })).toBe('lock.redlock.driftFactor')
    expect(optionOf({ ...redlock, redlock: { retryCount: 3 } as never })).toBe('lock.redlock.retryCount')
    expect(optionOf({ ...redlock, redlock: 0.01 as never })).toBe('lock.redlock')
    expect(optionOf({ clients, redlock: { driftFactor: 0.01 } })).toBe('lock.redlock')

    // A valid setting builds a working quorum lock: two caches (two engines, no shared promise),
    // 20 concurrent callers each on one cold key, one loader call, the lock seen on a quorum.
    const prefix = uniquePrefix()
    const key = uniqueKey('drift')
    const a = redlockCache(prefix, clients, { driftFactor: 0.2 })
    const b = redlockCache(prefix, clients, { driftFactor: 0.2 })
    let loads = 0
    let heldDuringLoad = 0
    const loader = async () => {
      loads++
      heldDuringLoad = await holders(`${a.entryKey(key)}:lock`)
      await new Promise((r) => setTimeout(r, 100))
      return 'v'
    }
    const values = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet(key, loader)),
    )
    expect(values).toEqual(Array(40).fill('v'))
    expect(loads).toBe(1)
    expect(heldDuringLoad).toBeGreaterThanOrEqual(2)
  })

  it('4 processes x 100 concurrent getOrSet on one cold key with a quorum lock: 1 loader call', async () => {
    const base: WorkerConfig = {
      redis: sharedRedis().url,
      prefix: uniquePrefix(),
      key: uniqueKey('redlock'),
      callers: 100,
      loaderMs: 200,
      bus: true,
      redlock: servers.map((s) => s.url),
      lock: { wait: 10_000, onTimeout: 'throw' },
    }
    const workers = await fleet.startTogether([base, base, base, base])
    const results = await Promise.all(workers.map((w) => w.result()))

    expect(total(results, (r) => r.loaderCalls)).toBe(1)
    const values = mergeCounts(results.map((r) => r.values))
    expect(Object.values(values)).toEqual([400])
    expect(mergeCounts(results.map((r) => r.errors))).toEqual({})
    expect(results.flatMap((r) => r.errorEvents)).toEqual([])
  }, 90_000)

  it('a holder whose quorum lock expired cannot overwrite the newer value', async () => {
    const prefix = uniquePrefix()
    const key = uniqueKey('fenced')
    const a = redlockCache(prefix)
    const b = redlockCache(prefix)
    const lockKey = `${a.entryKey(key)}:lock`
    const writes: Array<{ fenced: boolean }> = []
    a.on('write', (e) => writes.push(e))
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    let started = () => {}
    const loading = new Promise<void>((r) => (started = r))
    const pa = a.getOrSet(key, async () => {
      started()
      await gate
      return 'old'
    })
    await loading
    await waitUntil('the lock on all 3 servers', async () =>
      (await holders(lockKey)) === 3 ? true : 'not yet',
    )
    await Promise.all(clients.map((c) => c.del(lockKey))) // what expiry does, on every server
    expect(await b.getOrSet(key, () => 'new')).toBe('new')
    release()
    expect(await pa).toBe('old')
    expect(writes).toEqual([expect.objectContaining({ fenced: true })])
    expect(await b.get(key)).toBe('new')
  })

  it('one lock server down: the quorum still locks (1 loader call); two down: fails open, coded error', async () => {
    const prefix = uniquePrefix()
    const key = uniqueKey('quorum')
    const victim = servers[2] as RedisServer
    await victim.kill()
    await waitUntil('client 3 to notice', () => (clients[2]?.status === 'ready' ? 'still ready' : true))
    const c1 = redlockCache(prefix)
    const c2 = redlockCache(prefix)
    let calls = 0
    const loader = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 200))
      return 'quorum-value'
    }
    const values = await Promise.all([c1, c2].flatMap((c) => [1, 2, 3].map(() => c.getOrSet(key, loader))))
    expect(values.every((v) => v === 'quorum-value')).toBe(true)
    expect(calls).toBe(1)

    await (servers[1] as RedisServer).kill()
    await waitUntil('client 2 to notice', () => (clients[1]?.status === 'ready' ? 'still ready' : true))
    const errors: string[] = []
    c1.on('error', (e) => errors.push(e.error.code))
    expect(await c1.getOrSet(uniqueKey('no-quorum'), () => 'loaded-anyway')).toBe('loaded-anyway')
    expect(errors).toContain('E_STORE_UNAVAILABLE')

    await Promise.all([victim.restart(), (servers[1] as RedisServer).restart()])
    await waitUntil('clients back', () =>
      clients.every((c) => c.status === 'ready') ? true : 'reconnecting',
    )
  }, 60_000)
})
