/**
 * Core's @cached / @invalidates as Nest builds (experimentalDecorators + emitDecoratorMetadata;
 * this package's tsconfig sets both and vitest's Oxc transform honours them), on real Redis.
 */
import 'reflect-metadata'
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

const TAG = 'test:tag'
/** A plain experimental method decorator that records metadata on the function it sees. */
const Tag =
  (value: string): MethodDecorator =>
  (_target, _key, descriptor) => {
    Reflect.defineMetadata(TAG, value, descriptor.value as object)
  }

class Dep {}

describe('@cached under experimentalDecorators', () => {
  it('runs the method once for 100 concurrent calls with the same arguments', async () => {
    let calls = 0
    class Repo {
      @cached(() => cache)
      async find(id: number): Promise<string> {
        calls++
        await new Promise((r) => setTimeout(r, 20))
        return `user-${id}`
      }
    }
    const repo = new Repo()
    const results = await Promise.all(Array.from({ length: 100 }, () => repo.find(1)))
    expect(calls).toBe(1)
    expect(new Set(results)).toEqual(new Set(['user-1']))
    expect(await cache.get(methodKey(Repo, 'find', [1]))).toBe('user-1')
  })

  it('runs the method once per distinct arguments, 10 concurrent calls each', async () => {
    const calls = new Map<number, number>()
    class Repo {
      @cached(() => cache, { key: (id: number) => `exp-repo:${id}`, ttl: '1m' })
      async find(id: number): Promise<number> {
        calls.set(id, (calls.get(id) ?? 0) + 1)
        await new Promise((r) => setTimeout(r, 10))
        return id * 10
      }
    }
    const repo = new Repo()
    const ids = Array.from({ length: 100 }, (_, i) => i % 10)
    const results = await Promise.all(ids.map((id) => repo.find(id)))
    expect(results).toEqual(ids.map((id) => id * 10))
    expect([...calls.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect([...calls.values()]).toEqual(Array(10).fill(1))
  })

  it('keeps name, length and metadata set by decorators on either side, and design metadata', () => {
    class Svc {
      constructor(readonly dep: Dep) {}
      @Tag('below')
      @cached(() => cache)
      async below(a: number, _b: Dep): Promise<number> {
        return a
      }
      @cached(() => cache)
      @Tag('above')
      async above(a: string): Promise<string> {
        return a
      }
    }
    expect(Reflect.getMetadata(TAG, Svc.prototype.below)).toBe('below')
    expect(Reflect.getMetadata(TAG, Svc.prototype.above)).toBe('above')
    expect(Svc.prototype.below.name).toBe('below')
    expect(Svc.prototype.below.length).toBe(2)
    expect(Svc.prototype.above.length).toBe(1)
    // emitDecoratorMetadata's design:* keys live on (prototype, key): still there.
    expect(Reflect.getMetadata('design:paramtypes', Svc.prototype, 'below')).toEqual([Number, Dep])
    expect(Reflect.getMetadata('design:returntype', Svc.prototype, 'above')).toBe(Promise)
  })

  it('@invalidates deletes keys and invalidates tags after the method succeeds', async () => {
    let loads = 0
    class Users {
      @cached(() => cache, { key: (id: number) => `exp-user:${id}`, tags: ['exp-users'] })
      async find(id: number): Promise<string> {
        loads++
        return `user-${id}-v${loads}`
      }
      @invalidates(() => cache, { keys: (id: number) => `exp-user:${id}` })
      async rename(_id: number, _name: string): Promise<void> {}
      @invalidates(() => cache, { tags: ['exp-users'] })
      async renameAll(): Promise<void> {}
    }
    const users = new Users()
    expect(await users.find(1)).toBe('user-1-v1')
    expect(await users.find(2)).toBe('user-2-v2')
    await users.rename(1, 'x')
    expect(await users.find(1)).toBe('user-1-v3')
    expect(await users.find(2)).toBe('user-2-v2')
    await users.renameAll()
    expect(await users.find(1)).toBe('user-1-v4')
    expect(await users.find(2)).toBe('user-2-v5')
  })
})
