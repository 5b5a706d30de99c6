/**
 * Type tests (vitest typecheck, `tsc` under this package's tsconfig: experimentalDecorators, as
 * Nest compiles) for the key typing of @Cacheable / @CacheInvalidate and of core's `@cached` in
 * that compiler mode: a key or tags function must accept the method's arguments (it may read
 * fewer); only async methods fit. An unneeded `@ts-expect-error` is itself an error.
 */
import { type Cache, cached, invalidates } from '@herdless/core'
import { describe, expectTypeOf, it } from 'vitest'
import { type AsyncMethodDecorator, Cacheable, type CacheableOptions, CacheInvalidate } from '../src'

declare const cache: Cache

describe('@Cacheable / @CacheInvalidate', () => {
  it('return a decorator typed by the key function arguments', () => {
    expectTypeOf(Cacheable()).toEqualTypeOf<AsyncMethodDecorator<unknown[]>>()
    expectTypeOf(Cacheable({ key: (id: number) => `u:${id}` })).toEqualTypeOf<
      AsyncMethodDecorator<[id: number]>
    >()
    expectTypeOf(CacheInvalidate({ keys: (id: number, _n: string) => [`u:${id}`] })).toEqualTypeOf<
      AsyncMethodDecorator<[id: number, _n: string]>
    >()
    expectTypeOf<CacheableOptions<[number]>['key']>().toEqualTypeOf<
      ((args_0: number) => string) | undefined
    >()
  })

  it('accept keys that fit the method, on async methods only', () => {
    class UserService {
      @Cacheable({ key: (id: number) => `user:${id}`, ttl: '1m', tags: (id: number) => [`user:${id}`] })
      async find(id: number): Promise<{ id: number }> {
        return { id }
      }

      @Cacheable({ key: (id: number) => `user:${id}` })
      async findWith(id: number, _verbose: boolean): Promise<number> {
        return id
      }

      @Cacheable()
      async all(): Promise<number[]> {
        return []
      }

      @CacheInvalidate({ keys: (id: number) => [`user:${id}`], tags: ['users'] })
      async rename(id: number, _name: string): Promise<void> {
        void id
      }

      // @ts-expect-error the key takes a string, the method gets a number
      @Cacheable({ key: (id: string) => id })
      async byNumber(id: number): Promise<number> {
        return id
      }

      // @ts-expect-error the key wants two arguments, the method has one
      @Cacheable({ key: (a: number, b: number) => `${a}:${b}` })
      async one(a: number): Promise<number> {
        return a
      }

      // @ts-expect-error the tags function takes a string, the method gets a number
      @Cacheable({ tags: (id: string) => [id] })
      async tagged(id: number): Promise<number> {
        return id
      }

      // @ts-expect-error a method that does not return a Promise cannot be cached
      @Cacheable()
      sync(): number {
        return 1
      }

      // @ts-expect-error the invalidation keys take a string, the method gets a number
      @CacheInvalidate({ keys: (id: string) => [id] })
      async remove(id: number): Promise<void> {
        void id
      }

      // @ts-expect-error @CacheInvalidate is for async methods too
      @CacheInvalidate({ tags: ['users'] })
      syncRemove(): void {}
    }
    expectTypeOf<UserService['find']>().toEqualTypeOf<(id: number) => Promise<{ id: number }>>()
  })

  it('reject options of the wrong type', () => {
    // @ts-expect-error a key returns a string
    Cacheable({ key: (id: number) => id })
    // @ts-expect-error tags are strings
    Cacheable({ tags: [1] })
    // @ts-expect-error @CacheInvalidate needs string keys
    CacheInvalidate({ keys: [1] })
  })
})

describe("core's @cached / @invalidates under experimentalDecorators", () => {
  it('the same key checks as under standard decorators', () => {
    class Users {
      @cached(cache, { key: (id: number) => `user:${id}` })
      async find(id: number): Promise<number> {
        return id
      }

      @invalidates(cache, { tags: (id: number) => [`user:${id}`] })
      async touch(id: number): Promise<void> {
        void id
      }

      // @ts-expect-error the key takes a string, the method gets a number
      @cached(cache, { key: (id: string) => id })
      async byNumber(id: number): Promise<number> {
        return id
      }

      // @ts-expect-error the key wants two arguments, the method has one
      @invalidates(cache, { keys: (a: number, b: number) => `${a}:${b}` })
      async one(a: number): Promise<void> {
        void a
      }

      // @ts-expect-error only async methods
      @cached(cache)
      sync(): number {
        return 1
      }
    }
    expectTypeOf<Users['find']>().returns.resolves.toBeNumber()
  })
})
