import { type Cache, type CacheOptions, createCache } from '@herdless/core'
import {
  type RedisCluster,
  type RedisServer,
  sharedRedis,
  sleep,
  startCluster,
  startRedis,
  uniqueKey,
  uniquePrefix,
} from '@herdless/test-utils'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { keySlot } from '../src/tools'

/**
 * close() always returns and gives back what it holds; batch loads hold their leases like
 * getOrSet does. Each of these hung or leaked on 6bc0925.
 */

const open: Cache[] = []
function cache(options: CacheOptions): Cache {
  const c = createCache({ jitter: 0, ...options })
  c.on('error', () => {})
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

/** 'closed' when close() resolved first, 'hung' when it did not within `ms` (a generous bound). */
function closedWithin(c: Cache, ms: number): Promise<'closed' | 'hung'> {
  return Promise.race([c.close().then(() => 'closed' as const), sleep(ms).then(() => 'hung' as const)])
}

describe('close()', () => {
  let frozen: RedisServer | undefined
  afterAll(async () => {
    if (frozen?.pid) process.kill(frozen.pid, 'SIGCONT')
    await frozen?.stop()
  })

  it('returns on a Redis that stopped answering (SIGSTOP), bus and store alike', async () => {
    frozen = await startRedis()
    const c = cache({ redis: frozen.url, prefix: uniquePrefix(), l1: { max: 10 } })
    await new Promise<void>((resolve) => c.once('bus:ready', () => resolve()))
    await c.getOrSet(uniqueKey('f'), () => 1)
    const pid = frozen.pid as number
    process.kill(pid, 'SIGSTOP')
    try {
      // Bound: 1 s per connection's QUIT + 2 s for refreshes; 8 s leaves room for a busy machine.
      expect(await closedWithin(c, 8_000)).toBe('closed')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  })

  it("gives back the leases it holds: another process's caller takes over at once, not after lock.ttl", async () => {
    const prefix = uniquePrefix()
    // lock.ttl and lock.wait far beyond the test's timeout: a lease left behind would hang B.
    const lock = { ttl: '60s', wait: '60s', onTimeout: 'throw' as const }
    const a = cache({ redis: sharedRedis().url, prefix, lock })
    const b = cache({ redis: sharedRedis().url, prefix, lock })
    const key = uniqueKey('held')
    const acquired = new Promise<void>((resolve) => a.once('lock:acquired', () => resolve()))
    let release: () => void = () => {}
    const gate = new Promise<string>((resolve) => {
      release = () => resolve('a')
    })
    const slow = a.getOrSet(key, () => gate)
    await acquired
    await a.close()
    const got = await b.getOrSetResult(key, () => 'b')
    expect(got).toEqual({ value: 'b', source: 'loader' })
    release()
    expect(await slow).toBe('a')
  })

  it('does not wait forever for a stuck background refresh: it aborts the loader', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix(), ttl: 50, staleTtl: '1m' })
    const key = uniqueKey('stuck')
    await c.getOrSet(key, () => 'v1')
    await sleep(80)
    let aborted = 0
    const started = new Promise<void>((resolve) => c.once('lock:acquired', () => resolve()))
    const stale = await c.getOrSet(
      key,
      (ctx) =>
        new Promise<string>((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted++
            reject(ctx.signal.reason)
          })
        }),
    )
    expect(stale).toBe('v1')
    await started
    expect(await closedWithin(c, 8_000)).toBe('closed')
    expect(aborted).toBe(1)
  })
})

describe('getOrSetMany leases', () => {
  const lock = { ttl: '60s', wait: '60s', onTimeout: 'throw' as const }

  it('are given back when the batch loader throws or returns the wrong length', async () => {
    const prefix = uniquePrefix()
    const a = cache({ redis: sharedRedis().url, prefix, lock })
    const b = cache({ redis: sharedRedis().url, prefix, lock })
    const keys = [uniqueKey('b1'), uniqueKey('b2')]
    await expect(
      a.getOrSetMany(keys, () => {
        throw new Error('db down')
      }),
    ).rejects.toThrow('db down')
    await expect(a.getOrSetMany(keys, () => [1])).rejects.toMatchObject({ code: expect.any(String) })
    // A lease left behind would make B wait 60 s and throw E_LOCK_TIMEOUT.
    expect(await Promise.all(keys.map((k) => b.getOrSetResult(k, () => 'b')))).toEqual([
      { value: 'b', source: 'loader' },
      { value: 'b', source: 'loader' },
    ])
  })

  it('are extended while a batch slower than lock.ttl runs: one load per key', async () => {
    const prefix = uniquePrefix()
    const short = { ttl: 150, wait: '10s' }
    const a = cache({ redis: sharedRedis().url, prefix, lock: short })
    const b = cache({ redis: sharedRedis().url, prefix, lock: short })
    const keys = [uniqueKey('x1'), uniqueKey('x2')]
    let loads = 0
    const batch = a.getOrSetMany(keys, async (ks) => {
      loads += ks.length
      await sleep(600)
      return ks.map(() => 'a')
    })
    await sleep(300) // past lock.ttl: an unextended lease would have expired
    const other = await b.getOrSet(keys[0] as string, () => {
      loads++
      return 'b'
    })
    expect(await batch).toEqual(['a', 'a'])
    expect(other).toBe('a')
    expect(loads).toBe(2)
  })

  it('fall back to the stale values when the batch loader fails', async () => {
    const c = cache({ redis: sharedRedis().url, prefix: uniquePrefix(), ttl: 50, staleTtl: '1m' })
    const keys = [uniqueKey('s1'), uniqueKey('s2')]
    await c.getOrSetMany(keys, (ks) => ks.map((k) => `old-${k}`))
    await sleep(80)
    const got = await c.getOrSetMany(keys, () => {
      throw new Error('db down')
    })
    expect(got).toEqual(keys.map((k) => `old-${k}`))
  })
})

describe('one dead shard', () => {
  let cluster: RedisCluster | undefined
  afterAll(async () => {
    await cluster?.stop()
  })

  it('leaves getMany working on the live shards (one circuit per primary)', async () => {
    cluster = await startCluster({ replicasPerPrimary: 0 })
    const c = cache({ redis: { cluster: cluster.startupNodes }, prefix: uniquePrefix(), failOpen: true })
    const keys = Array.from({ length: 30 }, (_, i) => uniqueKey(`shard${i}`))
    await Promise.all(keys.map((k) => c.set(k, k)))
    const [victim] = await cluster.primaries()
    if (victim === undefined) throw new Error('no primary')
    const owns = (k: string) => {
      const slot = keySlot(c.entryKey(k))
      return victim.slots.some(([lo, hi]) => slot >= lo && slot <= hi)
    }
    const dead = new Set(keys.filter(owns))
    expect(dead.size).toBeGreaterThan(0)
    expect(dead.size).toBeLessThan(keys.length)
    await cluster.killNode(victim)
    for (let round = 0; round < 3; round++) {
      const got = await c.getMany(keys)
      const live = keys.filter((k, i) => !dead.has(k) && got[i] === k)
      expect(live).toHaveLength(keys.length - dead.size)
    }
  })
})
