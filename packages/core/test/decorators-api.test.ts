/**
 * The decorator API without decorator syntax: this project compiles with Oxc, which does not
 * lower standard decorators for Node 20, so the decorators are applied here by hand in both
 * call shapes. The syntax itself is exercised in packages/core/test-standard (TypeScript's
 * standard decorators) and packages/nestjs/test (experimentalDecorators + metadata).
 */
import { cached, createCache, invalidates, isCacheError, methodKey, stableHash } from '@herdless/core'
import { describe, expect, it } from 'vitest'

type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>

/** What TypeScript passes a standard method decorator, minus what the decorators never read. */
function standardContext(name: string): ClassMethodDecoratorContext {
  return {
    kind: 'method',
    name,
    static: false,
    private: false,
    access: { has: () => true, get: () => undefined },
    addInitializer: () => undefined,
    metadata: {},
  } as unknown as ClassMethodDecoratorContext
}

describe('stableHash', () => {
  it('ignores object key order and properties holding undefined', () => {
    expect(stableHash([{ a: 1, b: { c: 2, d: [3] } }])).toBe(stableHash([{ b: { d: [3], c: 2 }, a: 1 }]))
    expect(stableHash({ a: 1, b: undefined })).toBe(stableHash({ a: 1 }))
  })

  it('tells apart values JSON would collide', () => {
    const values = [
      [undefined],
      [null],
      [Number.NaN],
      [1],
      ['1'],
      [1n],
      [new Date(0)],
      [new Date(0).toISOString()],
      [new Set([1])],
      [[1]],
      [new Map([[1, 2]])],
      [Buffer.from('a')],
      ['a'],
      [],
    ]
    expect(new Set(values.map((v) => stableHash(v))).size).toBe(values.length)
  })

  it('is order independent for Maps and Sets', () => {
    expect(stableHash(new Set([1, 2]))).toBe(stableHash(new Set([2, 1])))
    expect(
      stableHash(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ),
    ).toBe(
      stableHash(
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    )
  })

  it('throws E_INVALID_KEY for functions, symbols and cycles', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [() => 1, Symbol('s'), cyclic]) {
      let caught: unknown
      try {
        stableHash([bad])
      } catch (err) {
        caught = err
      }
      expect(isCacheError(caught, 'E_INVALID_KEY')).toBe(true)
    }
  })

  it('is 22 base64url characters', () => {
    expect(stableHash([1, 'a'])).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

describe('methodKey', () => {
  it('is <Class>.<method>:<hash of the arguments>', () => {
    class UserService {}
    expect(methodKey(UserService, 'find', [1])).toBe(`UserService.find:${stableHash([1])}`)
    expect(methodKey('UserService', 'find', [1])).toBe(methodKey(UserService, 'find', [1]))
  })
})

describe('@cached applied by hand', () => {
  it('detects the standard shape, returns a wrapper keeping name and length, and caches', async () => {
    const cache = createCache()
    let calls = 0
    async function find(id: unknown, _opts?: unknown): Promise<string> {
      calls++
      return `user-${String(id)}`
    }
    const wrapped = cached(cache)(find, standardContext('find') as never) as unknown as Method
    expect(wrapped).not.toBe(find)
    expect(wrapped.name).toBe('find')
    expect(wrapped.length).toBe(find.length)
    class Svc {}
    Object.defineProperty(Svc.prototype, 'find', { value: wrapped })
    const self = new Svc()
    expect(await wrapped.call(self, 1)).toBe('user-1')
    expect(await wrapped.call(self, 1)).toBe('user-1')
    expect(calls).toBe(1)
    // The default key names the class holding the method, found through `this`.
    expect(await cache.get(methodKey('Svc', 'find', [1]))).toBe('user-1')
    await cache.close()
  })

  it('detects the experimental shape and replaces descriptor.value', async () => {
    const cache = createCache()
    let calls = 0
    class Svc {
      async find(id: number): Promise<number> {
        calls++
        return id * 2
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Svc.prototype, 'find') as
      | TypedPropertyDescriptor<(id: number) => Promise<number>>
      | undefined
    if (descriptor?.value === undefined) throw new Error('no descriptor')
    const original = descriptor.value
    const result = cached(cache, { key: (id: number) => `n:${id}` })(Svc.prototype, 'find', descriptor)
    expect(result).toBe(descriptor)
    expect(descriptor.value).not.toBe(original)
    expect(descriptor.value.name).toBe('find')
    expect(descriptor.value.length).toBe(1)
    Object.defineProperty(Svc.prototype, 'find', descriptor)
    const s = new Svc()
    expect(await Promise.all([s.find(2), s.find(2), s.find(3)])).toEqual([4, 4, 6])
    expect(calls).toBe(2)
    expect(await cache.get('n:2')).toBe(4)
    await cache.close()
  })

  it('rejects bad options when the decorator is created, with E_INVALID_OPTION', () => {
    const cache = createCache()
    const bad: Array<() => unknown> = [
      () => cached({} as never),
      () => cached(cache, 'x' as never),
      () => cached(cache, { key: 'user' as never }),
      () => cached(cache, { ttl: 'soon' }),
      () => cached(cache, { tags: [''] }),
      () => cached(cache, { tll: '5m' } as never),
      () => invalidates(cache, {}),
      () => invalidates(cache, { keys: [1] as never }),
      () => invalidates(cache, { tag: ['x'] } as never),
    ]
    for (const make of bad) {
      let caught: unknown
      try {
        make()
      } catch (err) {
        caught = err
      }
      expect(isCacheError(caught, 'E_INVALID_OPTION'), String(caught)).toBe(true)
    }
    return cache.close()
  })

  it('refuses anything but a method, in both shapes', () => {
    const cache = createCache()
    const decorate = cached(cache) as unknown as (...args: unknown[]) => unknown
    const attempts = [
      () => decorate(undefined, { kind: 'field', name: 'x' }),
      () => decorate(() => 1, { kind: 'getter', name: 'x' }),
      () => decorate({}, 'x', undefined),
      () => decorate({}, 'x', { get: () => 1 }),
      () => decorate({}),
    ]
    for (const attempt of attempts) {
      let caught: unknown
      try {
        attempt()
      } catch (err) {
        caught = err
      }
      expect(isCacheError(caught, 'E_INVALID_OPTION'), String(caught)).toBe(true)
    }
    return cache.close()
  })

  it('rejects with E_INVALID_KEY, without calling the method, when the key function returns no string', async () => {
    const cache = createCache()
    let calls = 0
    const wrapped = cached(cache, { key: () => 42 as unknown as string })(async () => {
      calls++
      return 1
    }, standardContext('m') as never) as unknown as Method
    await expect(wrapped.call({})).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(calls).toBe(0)
    await cache.close()
  })

  it('rejects with E_INVALID_OPTION when a cache getter returns no cache', async () => {
    let calls = 0
    const wrapped = cached((self: { cache?: unknown }) => self.cache as never)(async () => {
      calls++
      return 1
    }, standardContext('m') as never) as unknown as Method
    await expect(wrapped.call({})).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(calls).toBe(0)
  })
})

describe('@invalidates applied by hand', () => {
  it('deletes keys and invalidates tags after the method resolves, and not when it throws', async () => {
    const cache = createCache()
    await cache.set('a', 1)
    await cache.set('b', 2, { tags: ['t'] })
    let fail = true
    const wrapped = invalidates(cache, { keys: (k: unknown) => [String(k)], tags: ['t'] })(
      async (_k: unknown) => {
        if (fail) throw new Error('write failed')
        return 'done'
      },
      standardContext('write') as never,
    ) as unknown as Method
    await expect(wrapped.call({}, 'a')).rejects.toThrow('write failed')
    expect(await cache.get('a')).toBe(1)
    expect(await cache.get('b')).toBe(2)
    fail = false
    expect(await wrapped.call({}, 'a')).toBe('done')
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toBeUndefined()
    await cache.close()
  })
})
