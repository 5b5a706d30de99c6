/**
 * Type tests (vitest typecheck, `tsc` under core's tsconfig: standard TC39 decorators) for the
 * key typing of `@cached` / `@invalidates`: a key or tags function must accept the method's
 * arguments (it may read fewer), and only async methods can be decorated. A `@ts-expect-error`
 * that is no longer needed is itself an error, so a key the types stop rejecting fails the run.
 */
import {
  type AsyncMethod,
  type AsyncMethodDecorator,
  type Cache,
  type CachedOptions,
  cached,
  type InvalidatesOptions,
  invalidates,
  type KeyArgsFit,
  methodKey,
} from '@herdless/core'
import { describe, expectTypeOf, it } from 'vitest'

declare const cache: Cache
type Mismatch = { 'the key function does not accept the method arguments': never }

describe('KeyArgsFit', () => {
  it('is unknown when the key function can be called with the method arguments', () => {
    expectTypeOf<KeyArgsFit<[number, string], [number, string]>>().toEqualTypeOf<unknown>()
    // A key may read fewer arguments than the method takes.
    expectTypeOf<KeyArgsFit<[number, string], [number]>>().toEqualTypeOf<unknown>()
    expectTypeOf<KeyArgsFit<[number], []>>().toEqualTypeOf<unknown>()
    // A wider parameter accepts the method's narrower argument.
    expectTypeOf<KeyArgsFit<['a' | 'b'], [string]>>().toEqualTypeOf<unknown>()
    expectTypeOf<KeyArgsFit<[number, string?], [number, string?]>>().toEqualTypeOf<unknown>()
  })

  it('names the mismatch otherwise', () => {
    expectTypeOf<KeyArgsFit<[string], [number]>>().toEqualTypeOf<Mismatch>()
    // The key needs more arguments than the method gets.
    expectTypeOf<KeyArgsFit<[number], [number, number]>>().toEqualTypeOf<Mismatch>()
    expectTypeOf<KeyArgsFit<[], [number]>>().toEqualTypeOf<Mismatch>()
    // A narrower parameter does not accept what the method may be given.
    expectTypeOf<KeyArgsFit<[string], ['a']>>().toEqualTypeOf<Mismatch>()
  })
})

describe('cached / invalidates return an AsyncMethodDecorator', () => {
  it('typed by the key function arguments', () => {
    expectTypeOf(cached(cache)).toEqualTypeOf<AsyncMethodDecorator<unknown, unknown[]>>()
    expectTypeOf(cached(cache, { key: (id: number) => `u:${id}` })).toEqualTypeOf<
      AsyncMethodDecorator<unknown, [id: number]>
    >()
    expectTypeOf(invalidates(cache, { tags: (a: string, b: number) => [a, String(b)] })).toEqualTypeOf<
      AsyncMethodDecorator<unknown, [a: string, b: number]>
    >()
    expectTypeOf<CachedOptions<[number]>['key']>().toEqualTypeOf<((args_0: number) => string) | undefined>()
    expectTypeOf<InvalidatesOptions<[number]>['keys']>().toExtend<
      string | readonly string[] | ((n: number) => string | readonly string[]) | undefined
    >()
    expectTypeOf<AsyncMethod<object, [number], string>>().returns.toEqualTypeOf<Promise<string>>()
  })

  it('options are checked: a key returns a string, tags strings', () => {
    // @ts-expect-error a key must return a string
    cached(cache, { key: (id: number) => id })
    // @ts-expect-error tags are strings
    cached(cache, { tags: [1] })
    // @ts-expect-error ttl is a Duration, not a boolean
    cached(cache, { ttl: true })
    // @ts-expect-error invalidates needs keys or tags of strings
    invalidates(cache, { keys: (id: number) => id })
  })
})

describe('decorated methods', () => {
  it('accepts keys that fit the method, async methods only', () => {
    class Users {
      @cached(cache, { key: (id: number) => `user:${id}`, tags: (id: number) => [`user:${id}`] })
      async find(id: number): Promise<{ id: number }> {
        return { id }
      }

      // The key reads the first argument only.
      @cached(cache, { key: (id: number) => `user:${id}` })
      async findWith(id: number, _verbose: boolean): Promise<number> {
        return id
      }

      // No key: methodKey(Class, method, args).
      @cached(cache, { ttl: '1m' })
      async all(): Promise<number[]> {
        return []
      }

      @invalidates(cache, { keys: (id: number) => `user:${id}`, tags: ['users'] })
      async rename(id: number, _name: string): Promise<void> {
        void id
      }

      // @ts-expect-error the key takes a string, the method gets a number
      @cached(cache, { key: (id: string) => id })
      async byNumber(id: number): Promise<number> {
        return id
      }

      // @ts-expect-error the key wants two arguments, the method has one
      @cached(cache, { key: (a: number, b: number) => `${a}:${b}` })
      async one(a: number): Promise<number> {
        return a
      }

      // @ts-expect-error the tags function takes a string, the method gets a number
      @cached(cache, { tags: (id: string) => [id] })
      async tagged(id: number): Promise<number> {
        return id
      }

      // @ts-expect-error a cache cannot stand in front of a method that does not return a Promise
      @cached(cache)
      sync(): number {
        return 1
      }

      // @ts-expect-error the invalidation key takes a string, the method gets a number
      @invalidates(cache, { keys: (id: string) => id })
      async remove(id: number): Promise<void> {
        void id
      }

      // @ts-expect-error @invalidates is for async methods too
      @invalidates(cache, { tags: ['users'] })
      syncRemove(): void {}
    }
    // The decorated method keeps its type.
    expectTypeOf<Users['find']>().toEqualTypeOf<(id: number) => Promise<{ id: number }>>()
    expectTypeOf<Users['findWith']>().parameters.toEqualTypeOf<[id: number, _verbose: boolean]>()
  })

  it('a cache read from the instance is typed by the class', () => {
    class WithField {
      constructor(readonly cache: Cache) {}

      @cached((self: WithField) => self.cache, { key: (id: number) => `f:${id}` })
      async find(id: number): Promise<number> {
        return id
      }
    }
    class Other {
      // @ts-expect-error the getter reads a WithField, this class is not one
      @cached((self: WithField) => self.cache)
      async find(): Promise<number> {
        return 1
      }
    }
    expectTypeOf<WithField['find']>().returns.resolves.toBeNumber()
    expectTypeOf<Other['find']>().returns.resolves.toBeNumber()
  })
})

describe('methodKey', () => {
  it('takes a class or a name, the method name and the arguments; returns the key', () => {
    class Users {}
    expectTypeOf(methodKey).parameters.toEqualTypeOf<
      [owner: string | { name: string }, method: string, args: readonly unknown[]]
    >()
    expectTypeOf(methodKey(Users, 'find', [42])).toBeString()
    expectTypeOf(methodKey('Users', 'find', [])).toBeString()
    // @ts-expect-error the arguments are required (an empty list for none)
    methodKey(Users, 'find')
    // @ts-expect-error the owner is a class or its name
    methodKey(42, 'find', [])
  })
})
