/**
 * @cached / @invalidates as a TypeScript 5 project without experimentalDecorators compiles
 * them (TC39 standard decorators, lowered by TypeScript itself: see vitest.config.ts), on the
 * shared Redis.
 */
import { type Cache, cached, createCache, invalidates, methodKey } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * These tests count loader/handler runs. On a loaded 2-core CI machine a Redis read can outlast
 * the 250 ms default deadline and fail open to the loader (by design), which would read as a
 * stampede; a generous deadline keeps the count about coordination, not machine load.
 */
const TEST_REDIS_TIMEOUT = '2s'

let cache: Cache
beforeAll(() => {
  cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), redisTimeout: TEST_REDIS_TIMEOUT })
})
afterAll(async () => {
  await cache.close()
})

describe('@cached under standard decorators', () => {
  it('runs the method once for 100 concurrent calls with the same arguments', async () => {
    const calls: number[] = []
    class Repo {
      @cached(() => cache)
      async find(id: number): Promise<{ id: number; name: string }> {
        calls.push(id)
        await new Promise((r) => setTimeout(r, 20))
        return { id, name: `user-${id}` }
      }
    }
    const repo = new Repo()
    const results = await Promise.all(Array.from({ length: 100 }, () => repo.find(7)))
    expect(calls).toEqual([7])
    expect(new Set(results.map((r) => JSON.stringify(r)))).toEqual(new Set(['{"id":7,"name":"user-7"}']))
    // The default key: class name, method name, stable hash of the arguments.
    expect(await cache.get(methodKey('Repo', 'find', [7]))).toEqual({ id: 7, name: 'user-7' })
  })

  it('runs the method once per distinct arguments, 10 concurrent calls each', async () => {
    const calls = new Map<string, number>()
    class Repo {
      @cached(() => cache)
      async search(query: { q: string; page: number }): Promise<string> {
        const k = `${query.q}/${query.page}`
        calls.set(k, (calls.get(k) ?? 0) + 1)
        await new Promise((r) => setTimeout(r, 10))
        return k
      }
    }
    const repo = new Repo()
    const pending: Promise<string>[] = []
    for (let i = 0; i < 10; i++) {
      for (let page = 0; page < 10; page++) {
        // Same arguments with keys in another order: the same entry.
        pending.push(i % 2 === 0 ? repo.search({ q: 'x', page }) : repo.search({ page, q: 'x' }))
      }
    }
    const results = await Promise.all(pending)
    expect(results.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, p) => `x/${p}`))
    expect(calls.size).toBe(10)
    expect([...calls.values()]).toEqual(Array(10).fill(1))
  })

  it('keeps name and length, and a subclass shares the base class key', async () => {
    let calls = 0
    class Base {
      @cached(() => cache)
      async load(a: string, b: string): Promise<string> {
        calls++
        return a + b
      }
    }
    class Derived extends Base {}
    expect(Base.prototype.load.name).toBe('load')
    expect(Base.prototype.load.length).toBe(2)
    expect(await new Base().load('a', 'b')).toBe('ab')
    expect(await new Derived().load('a', 'b')).toBe('ab')
    expect(calls).toBe(1)
    expect(await cache.get(methodKey('Base', 'load', ['a', 'b']))).toBe('ab')
  })

  it('uses a key function, static methods, and a cache read from the instance', async () => {
    let calls = 0
    class Svc {
      constructor(readonly cache: Cache) {}
      @cached((self: Svc) => self.cache, { key: (id: number) => `svc:${id}`, ttl: '1m' })
      async get(id: number): Promise<number> {
        calls++
        return id + 1
      }
      @cached(() => cache)
      static async version(): Promise<string> {
        calls++
        return 'v1'
      }
    }
    const svc = new Svc(cache)
    expect(await Promise.all([svc.get(1), svc.get(1)])).toEqual([2, 2])
    expect(await Svc.version()).toBe('v1')
    expect(await Svc.version()).toBe('v1')
    expect(calls).toBe(2)
    expect(await cache.get('svc:1')).toBe(2)
    expect(await cache.get(methodKey('Svc', 'version', []))).toBe('v1')
  })

  it('@invalidates deletes keys and invalidates tags once the method succeeds', async () => {
    let loads = 0
    let fail = false
    class Users {
      @cached(() => cache, {
        key: (id: number) => `std-user:${id}`,
        tags: (id: number) => ['std-users', `std-user-${id}`],
      })
      async find(id: number): Promise<string> {
        loads++
        return `user-${id}-v${loads}`
      }

      @invalidates(() => cache, { keys: (id: number) => [`std-user:${id}`] })
      async rename(_id: number, _name: string): Promise<boolean> {
        if (fail) throw new Error('database down')
        return true
      }

      @invalidates(() => cache, { tags: ['std-users'] })
      async renameAll(): Promise<void> {}
    }
    const users = new Users()
    expect(await users.find(1)).toBe('user-1-v1')
    expect(await users.find(2)).toBe('user-2-v2')

    fail = true
    await expect(users.rename(1, 'x')).rejects.toThrow('database down')
    expect(await users.find(1)).toBe('user-1-v1')
    fail = false
    expect(await users.rename(1, 'x')).toBe(true)
    expect(await users.find(1)).toBe('user-1-v3')
    expect(await users.find(2)).toBe('user-2-v2')

    await users.renameAll()
    expect(await users.find(1)).toBe('user-1-v4')
    expect(await users.find(2)).toBe('user-2-v5')
    expect(loads).toBe(5)
  })

  it('types: sync methods and key functions that cannot take the arguments fail to compile', async () => {
    class Sync {
      // @ts-expect-error -- @cached only decorates async methods
      @cached(() => cache)
      now(): number {
        return 1
      }

      // @ts-expect-error -- the key function reads a string, the method takes a number
      @cached(() => cache, { key: (id: string) => `typed:${id}` })
      async byId(id: number): Promise<number> {
        return id
      }
    }
    // (These checks run under `tsc -p packages/core/test-standard`.) At runtime both still work.
    expect(await (new Sync().now() as unknown as Promise<number>)).toBe(1)
    expect(await new Sync().byId(3)).toBe(3)
  })
})
