import { type Cache, createCache } from '@herdless/core'
import { sleep, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import type { Cluster, Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type Backend,
  ensureCoreDist,
  Fleet,
  mergeCounts,
  type RedisConfig,
  rawClient,
  redisConfig,
  total,
  type WorkerConfig,
} from './fixtures/fleet'

/**
 * DESIGN.md section 5 across separate Node processes (child processes running the built
 * package), on the shared standalone server and on the shared cluster. Every assertion counts
 * loader calls, values and errors; none depends on how long anything took.
 */
beforeAll(ensureCoreDist, 180_000)

const fleet = new Fleet()
afterEach(() => fleet.killAll())

describe.each<Backend>(['standalone', 'cluster'])('stampede protection (%s)', (backend) => {
  let redis: RedisConfig
  let raw: Redis | Cluster
  const caches: Cache[] = []
  beforeAll(() => {
    redis = redisConfig(backend)
    raw = rawClient(redis)
  })
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()))
  })
  afterAll(async () => {
    await raw.quit()
  })

  function cache(prefix: string, options: Parameters<typeof createCache>[0] = {}): Cache {
    const c = createCache({ redis, prefix, jitter: 0, redisTimeout: '2s', ...options })
    caches.push(c)
    return c
  }

  it('4 processes x 250 concurrent getOrSet on one cold key: 1 loader call, every caller gets the value', async () => {
    const base: WorkerConfig = {
      redis,
      prefix: uniquePrefix(),
      key: uniqueKey('cold'),
      callers: 250,
      loaderMs: 200,
      bus: true,
    }
    const workers = await fleet.startTogether([base, base, base, base])
    const results = await Promise.all(workers.map((w) => w.result()))

    expect(total(results, (r) => r.loaderCalls)).toBe(1)
    const values = mergeCounts(results.map((r) => r.values))
    expect(Object.keys(values)).toHaveLength(1)
    expect(Object.values(values)[0]).toBe(1000)
    expect(mergeCounts(results.map((r) => r.errors))).toEqual({})
    expect(results.flatMap((r) => r.errorEvents)).toEqual([])
    expect(total(results, (r) => r.events['lock:timeout'] ?? 0)).toBe(0)
  }, 90_000)

  it('holder SIGKILLed mid-load: its lock expires, exactly one other process loads, every survivor gets the value', async () => {
    const hangKey = `${uniquePrefix()}:starts`
    const base: WorkerConfig = {
      redis,
      prefix: uniquePrefix(),
      key: uniqueKey('crash'),
      callers: 250,
      loaderMs: 200,
      hangKey,
      bus: true,
      // Waiters give up with E_LOCK_TIMEOUT rather than load: a waiter that did not wait for
      // the takeover shows up as an error, not as a silent extra loader call.
      lock: { ttl: 1_000, wait: 10_000, onTimeout: 'throw' },
    }
    const workers = await fleet.startTogether([base, base, base, base])
    // The first loader start fleet-wide hangs: that process is the holder. Kill it, no shutdown.
    const holder = await Promise.any(workers.map((w) => w.waitFor('loader-start').then(() => w)))
    holder.kill('SIGKILL')
    expect((await holder.exited).signal).toBe('SIGKILL')

    const survivors = workers.filter((w) => w !== holder)
    const results = await Promise.all(survivors.map((w) => w.result()))
    expect(total(results, (r) => r.loaderCalls)).toBe(1)
    expect(Number(await raw.get(hangKey))).toBe(2) // the victim's start + one takeover
    const values = mergeCounts(results.map((r) => r.values))
    expect(Object.keys(values)).toHaveLength(1)
    expect(Object.values(values)[0]).toBe(750)
    expect(mergeCounts(results.map((r) => r.errors))).toEqual({})
    expect(results.flatMap((r) => r.errorEvents)).toEqual([])
    await raw.del(hangKey)
  }, 90_000)

  it('a loader slower than lock.ttl keeps its lock extended: still 1 loader call', async () => {
    const prefix = uniquePrefix()
    const key = uniqueKey('slow')
    // Extended every ttl/3: an event-loop stall of up to 2/3 of it (a busy CI box) is tolerated.
    const lockTtl = 500
    const processes = [0, 1, 2].map(() =>
      cache(prefix, { lock: { ttl: lockTtl, wait: 10_000, onTimeout: 'throw' } }),
    )
    const first = processes[0] as Cache
    const lockKey = `${first.entryKey(key)}:lock`
    let calls = 0
    let heldAfterTtls = -1
    const lost: unknown[] = []
    for (const c of processes) c.on('lock:lost', (e) => lost.push(e))
    const loader = async () => {
      calls++
      // Four lock TTLs in: the lock must still be there, extended while we run.
      await sleep(lockTtl * 4)
      heldAfterTtls = await raw.pttl(lockKey)
      await sleep(lockTtl)
      return 'slow-value'
    }
    const all = processes.flatMap((c) => Array.from({ length: 20 }, () => c.getOrSet(key, loader)))
    const values = await Promise.all(all)

    expect(calls).toBe(1)
    expect(values.every((v) => v === 'slow-value')).toBe(true)
    expect(heldAfterTtls).toBeGreaterThan(0)
    expect(lost).toEqual([])
  }, 30_000)

  it('a holder whose lock expired and was taken over cannot overwrite the newer value', async () => {
    const prefix = uniquePrefix()
    const key = uniqueKey('fenced')
    const a = cache(prefix)
    const b = cache(prefix)
    const lockKey = `${a.entryKey(key)}:lock`
    const writes: Array<{ fenced: boolean }> = []
    a.on('write', (e) => writes.push(e))

    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    let started = () => {}
    const loading = new Promise<void>((r) => (started = r))
    const pa = a.getOrSet(key, async () => {
      started()
      await gate // a holder stalled (GC pause, slow database) past its lock
      return 'old'
    })
    await loading
    // What expiry does to the lock: the key is gone. (Deleting it is the deterministic way
    // to get there without racing A's own extension timer.)
    expect(await raw.del(lockKey)).toBe(1)
    // A later holder takes the lock, loads newer data and writes it.
    expect(await b.getOrSet(key, () => 'new')).toBe('new')
    // Now A's loader returns: its caller gets A's value, but the store keeps B's.
    release()
    expect(await pa).toBe('old')
    expect(writes).toEqual([expect.objectContaining({ fenced: true })])
    expect(await b.get(key)).toBe('new')
    expect(await a.get(key)).toBe('new')
  })

  it('a hot key past freshUntil under steady load: every caller gets the stale value at once, exactly 1 refresh', async () => {
    const prefix = uniquePrefix()
    const key = uniqueKey('hot')
    const gateKey = `${prefix}:gate`
    const seed = cache(prefix)
    await seed.set(key, 'stale-value', { ttl: '1m' })
    expect(await seed.expire(key)).toBe(1) // past freshUntil, kept as the stale copy

    const base: WorkerConfig = {
      redis,
      prefix,
      key,
      callers: 25,
      loaderMs: 50,
      mode: 'hot',
      rounds: 8,
      roundPauseMs: 10,
      gateKey,
      staleValue: 'stale-value',
      value: 'fresh-value',
    }
    const workers = await fleet.startTogether([base, base, base])
    // All 3 x 8 x 25 calls answer while the refresh is held at the gate: none of them waited
    // for it (a caller that waited would block here until the test times out).
    await Promise.all(workers.map((w) => w.waitFor('rounds-done', 30_000)))
    // Open the gate with the load still on: stale reads race the refresh's write and the
    // release of its lock, and must not start a second refresh.
    await raw.set(gateKey, '1')
    for (const w of workers) w.send('finish')
    const results = await Promise.all(workers.map((w) => w.result()))

    expect(mergeCounts(results.map((r) => r.values))).toEqual({ 'stale-value': 3 * 8 * 25 })
    expect(total(results, (r) => r.loaderCalls)).toBe(1)
    expect(total(results, (r) => r.events['lock:wait'] ?? 0)).toBe(0)
    expect(total(results, (r) => r.events.miss ?? 0)).toBe(0)
    // While it landed: the stale value or the one refreshed value, nothing else, no errors.
    const post = mergeCounts(results.map((r) => r.post.values))
    const fresh = Object.keys(post).filter((v) => v !== 'stale-value')
    expect(fresh).toHaveLength(1)
    expect(fresh[0]).toMatch(/^fresh-value@/)
    expect(mergeCounts(results.flatMap((r) => [r.errors, r.post.errors]))).toEqual({})
    expect(results.flatMap((r) => r.errorEvents)).toEqual([])
    expect(await seed.get(key)).toBe(fresh[0])
    await raw.del(gateKey)
  }, 90_000)
})
