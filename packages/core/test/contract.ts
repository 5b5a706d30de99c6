import { uniqueKey, waitUntil } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache, isCacheError } from '../src/index'

export interface ContractTarget {
  name: string
  /** Options that point a cache at this store (empty for the embedded default). */
  options(): CacheOptions
  /** Raw write under a full Redis key (undefined for the memory store). */
  writeRaw?(fullKey: string, bytes: Buffer): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Bounded wait for something a background refresh does. */
const eventually = (check: () => boolean | Promise<boolean>) =>
  waitUntil('the background refresh', async () => (await check()) || 'not yet', { timeoutMs: 3_000 })

/**
 * The behaviour every store must show. Timing here only sets up states (fresh, stale, gone)
 * with generous margins; assertions are on values and loader call counts.
 */
export function cacheContract(target: ContractTarget): void {
  describe(`cache contract: ${target.name}`, () => {
    let cache: Cache
    const prefix = `c${Math.random().toString(36).slice(2, 8)}`
    beforeAll(() => {
      cache = createCache({ ...target.options(), prefix })
    })
    afterAll(async () => {
      await cache.close()
    })

    it('moves fresh → stale → gone, with TTLs inside the jitter bounds', async () => {
      const key = uniqueKey('life')
      let calls = 0
      const loader = () => ++calls
      const opts = { ttl: 300, staleTtl: 500, jitter: 0 }
      expect(await cache.getOrSet(key, loader, opts)).toBe(1)
      expect((await cache.inspect(key))?.state).toBe('fresh')
      expect(await cache.getOrSet(key, loader, opts)).toBe(1)
      await sleep(400)
      expect((await cache.inspect(key))?.state).toBe('stale')
      await sleep(700)
      expect(await cache.inspect(key)).toBeUndefined()
      expect(await cache.getOrSet(key, loader, { ...opts, staleWhileRevalidate: false })).toBe(2)

      const created: number[] = []
      for (let i = 0; i < 40; i++) {
        const k = uniqueKey('jit')
        await cache.set(k, i, { ttl: 10_000, staleTtl: 10_000, jitter: 0.2 })
        const info = await cache.inspect(k)
        if (info === undefined) throw new Error('entry missing')
        const fresh = info.freshUntil - info.createdAt
        const total = info.staleUntil - info.createdAt
        expect(fresh).toBeGreaterThanOrEqual(8_000)
        expect(fresh).toBeLessThanOrEqual(12_000)
        expect(total).toBeGreaterThanOrEqual(16_000)
        expect(total).toBeLessThanOrEqual(24_000)
        created.push(fresh)
      }
      expect(new Set(created).size).toBeGreaterThan(1)
    })

    it('serves stale at once and refreshes once in the background (stale-while-revalidate)', async () => {
      const key = uniqueKey('swr')
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(50)
        return `v${calls}`
      }
      const opts = { ttl: 200, staleTtl: 5_000, jitter: 0, earlyRefresh: false as const }
      expect(await cache.getOrSet(key, loader, opts)).toBe('v1')
      await sleep(300)
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet(key, loader, opts)))
      expect(answers.every((a) => a === 'v1')).toBe(true)
      await eventually(async () => (await cache.get(key)) === 'v2')
      expect(calls).toBe(2)
    })

    it('serves stale when the loader fails, then backs off (stale-if-error)', async () => {
      const key = uniqueKey('sie')
      let calls = 0
      let fail = false
      const loader = async () => {
        calls++
        if (fail) throw new Error('db down')
        return 'good'
      }
      const opts = {
        ttl: 150,
        staleTtl: 10_000,
        jitter: 0,
        failSafeBackoff: 600,
        earlyRefresh: false as const,
      }
      const errors: unknown[] = []
      const onError = (e: { error: unknown }) => errors.push(e.error)
      cache.on('load:error', onError)
      try {
        await cache.getOrSet(key, loader, opts)
        fail = true
        await sleep(250)
        // Synchronous path: no revalidation, the failure itself returns the stale value.
        expect(await cache.getOrSet(key, loader, { ...opts, staleWhileRevalidate: false })).toBe('good')
        expect(calls).toBe(2)
        expect(errors).toHaveLength(1)
        // Backoff: the stale value is treated as fresh for failSafeBackoff, the loader is left alone.
        for (let i = 0; i < 10; i++) expect(await cache.getOrSet(key, loader, opts)).toBe('good')
        expect(calls).toBe(2)
        await sleep(700)
        expect(await cache.getOrSet(key, loader, opts)).toBe('good')
        await eventually(() => calls === 3)
      } finally {
        cache.off('load:error', onError)
      }
    })

    it("rethrows the loader's own error when nothing is cached", async () => {
      const boom = new Error('boom')
      await expect(cache.getOrSet(uniqueKey('err'), () => Promise.reject(boom))).rejects.toBe(boom)
    })

    it('returns stale past timeouts.soft and stores the late result', async () => {
      const key = uniqueKey('soft')
      const opts = { ttl: 150, staleTtl: 10_000, jitter: 0, earlyRefresh: false as const }
      await cache.set(key, 'old', opts)
      await sleep(250)
      const value = await cache.getOrSet(
        key,
        async () => {
          await sleep(400)
          return 'new'
        },
        { ...opts, staleWhileRevalidate: false, timeouts: { soft: 30 } },
      )
      expect(value).toBe('old')
      await eventually(async () => (await cache.get(key)) === 'new')
    })

    it('rejects with E_LOADER_TIMEOUT past timeouts.hard and aborts the signal', async () => {
      let aborted = false
      const err = await cache
        .getOrSet(
          uniqueKey('hard'),
          (ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = true
              })
              setTimeout(() => resolve('late'), 400)
            }),
          { timeouts: { hard: 50 } },
        )
        .catch((e: unknown) => e)
      expect(isCacheError(err, 'E_LOADER_TIMEOUT')).toBe(true)
      expect(aborted).toBe(true)
    })

    it('caches null (negative caching) but never undefined', async () => {
      let nulls = 0
      const nk = uniqueKey('null')
      expect(
        await cache.getOrSet(nk, () => {
          nulls++
          return null
        }),
      ).toBeNull()
      expect(
        await cache.getOrSet(nk, () => {
          nulls++
          return null
        }),
      ).toBeNull()
      expect(nulls).toBe(1)
      let undefs = 0
      const uk = uniqueKey('undef')
      expect(
        await cache.getOrSet(uk, () => {
          undefs++
          return undefined
        }),
      ).toBeUndefined()
      expect(
        await cache.getOrSet(uk, () => {
          undefs++
          return undefined
        }),
      ).toBeUndefined()
      expect(undefs).toBe(2)
    })

    it('coalesces 100 concurrent calls into one loader call', async () => {
      const key = uniqueKey('coalesce')
      let calls = 0
      const results = await Promise.all(
        Array.from({ length: 100 }, () =>
          cache.getOrSet(key, async () => {
            calls++
            await sleep(100)
            return { id: 7 }
          }),
        ),
      )
      expect(calls).toBe(1)
      expect(results.every((r) => r.id === 7)).toBe(true)
    })

    it('expire keeps a stale copy; delete removes it', async () => {
      const key = uniqueKey('exp')
      await cache.set(key, 'v1', { ttl: 60_000 })
      expect(await cache.expire(key)).toBe(1)
      expect(await cache.get(key)).toBeUndefined()
      expect(await cache.get(key, { allowStale: true })).toBe('v1')
      let calls = 0
      expect(
        await cache.getOrSet(key, () => {
          calls++
          return 'v2'
        }),
      ).toBe('v1')
      await eventually(async () => (await cache.get(key)) === 'v2')
      expect(calls).toBe(1)
      expect(await cache.delete(key)).toBe(1)
      expect(await cache.get(key, { allowStale: true })).toBeUndefined()
      expect(await cache.getOrSet(key, () => 'v3')).toBe('v3')
    })

    it('deletes and expires many keys at once', async () => {
      const keys = Array.from({ length: 50 }, () => uniqueKey('many'))
      await Promise.all(keys.map((k, i) => cache.set(k, i)))
      expect(await cache.expire(keys)).toBe(50)
      expect(await cache.delete(keys)).toBe(50)
      expect(await Promise.all(keys.map((k) => cache.get(k, { allowStale: true })))).toEqual(
        keys.map(() => undefined),
      )
    })

    it('isolates namespaces', async () => {
      const key = uniqueKey('ns')
      const a = cache.namespace('tenant-a')
      const b = cache.namespace('tenant-b', { ttl: '1m' })
      await a.set(key, 'A')
      await b.set(key, 'B')
      expect(await a.get(key)).toBe('A')
      expect(await b.get(key)).toBe('B')
      expect(await cache.get(key)).toBeUndefined()
      await a.delete(key)
      expect(await b.get(key)).toBe('B')
    })

    it('rejects bad input with coded errors and stores nothing', async () => {
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: { code?: string }) => e.code,
        )
      expect(await codeOf(cache.getOrSet('', () => 1))).toBe('E_INVALID_KEY')
      expect(await codeOf(cache.getOrSet(42 as unknown as string, () => 1))).toBe('E_INVALID_KEY')
      expect(await codeOf(cache.getOrSet('x'.repeat(2000), () => 1))).toBe('E_INVALID_KEY')
      expect(await codeOf(cache.getOrSet(uniqueKey('opt'), () => 1, { ttl: 'soon' }))).toBe(
        'E_INVALID_OPTION',
      )
      const sym = uniqueKey('sym')
      expect(await codeOf(cache.set(sym, Symbol('s')))).toBe('E_SERIALIZE')
      expect(await cache.get(sym, { allowStale: true })).toBeUndefined()
      const big = uniqueKey('big')
      expect(await codeOf(cache.set(big, 'x'.repeat(1_100_000)))).toBe('E_VALUE_TOO_LARGE')
      // getOrSet still answers with an oversized value, it only skips storing it.
      const skipped: string[] = []
      const onSkip = (e: { reason: string }) => skipped.push(e.reason)
      cache.on('write:skipped', onSkip)
      expect((await cache.getOrSet(big, () => 'y'.repeat(1_100_000))).length).toBe(1_100_000)
      cache.off('write:skipped', onSkip)
      expect(skipped).toEqual(['too-large'])
      expect(await cache.get(big, { allowStale: true })).toBeUndefined()
    })

    it('lets the loader set its own ttl and skip caching', async () => {
      const key = uniqueKey('ctx')
      await cache.getOrSet(key, (ctx) => {
        ctx.setTtl('42s')
        return 1
      })
      const info = await cache.inspect(key)
      expect(info && Math.round((info.freshUntil - info.createdAt) / 1000)).toBeGreaterThanOrEqual(37)
      expect(info && Math.round((info.freshUntil - info.createdAt) / 1000)).toBeLessThanOrEqual(47)
      const skipKey = uniqueKey('skip')
      let calls = 0
      for (let i = 0; i < 2; i++) {
        await cache.getOrSet(skipKey, (ctx) => {
          ctx.skip()
          return ++calls
        })
      }
      expect(calls).toBe(2)
    })

    if (target.writeRaw !== undefined) {
      const writeRaw = target.writeRaw
      it('reads garbage bytes under an entry key as a miss, with an E_DECODE error event', async () => {
        const key = uniqueKey('garbage')
        const codes: string[] = []
        const onError = (e: { error: { code: string } }) => codes.push(e.error.code)
        cache.on('error', onError)
        try {
          for (const bytes of [
            Buffer.from('not msgpack at all'),
            Buffer.from([0xd7, 1, 2, 3]),
            Buffer.alloc(64, 0xd7),
          ]) {
            await writeRaw(cache.entryKey(key), bytes)
            expect(await cache.getOrSet(key, () => 'fresh', { staleWhileRevalidate: false })).toBe('fresh')
            await cache.delete(key)
          }
        } finally {
          cache.off('error', onError)
        }
        // Each garbage read is reported (the lock holder's re-read may report it a second time).
        expect(codes.filter((c) => c === 'E_DECODE').length).toBeGreaterThanOrEqual(3)
        expect(codes.every((c) => c === 'E_DECODE')).toBe(true)
      })
    }
  })
}
