import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { Packr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// White-box: the envelope codec is internal (not exported), tested here directly.
import { decodeEntry, encodeEntry } from '../src/entry/envelope'
import { type Cache, type CacheOptions, createCache, errors, isCacheError, MAX_TTL_MS } from '../src/index'

/** The coded error thrown by `fn`, or a failure naming what was thrown instead. */
function thrown(fn: () => unknown): { code?: string; option?: string; message: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string; option?: string; message: string }
  }
  throw new Error('expected a throw')
}
async function rejected(p: Promise<unknown>): Promise<{ code?: string; option?: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a rejection')
    },
    (err: unknown) => err as { code?: string; option?: string; message: string },
  )
}

describe('durations that become timers stay inside Node timer range', () => {
  const cases: Array<[string, CacheOptions]> = [
    ['timeouts.hard', { timeouts: { hard: '25d' } }],
    ['timeouts.soft', { timeouts: { soft: '25d' } }],
    ['lock.ttl', { lock: { ttl: '100d' } }],
    ['lock.wait', { lock: { wait: '25d' } }],
    ['topology.pollInterval', { topology: { pollInterval: '25d' } }],
    ['breaker.cooldown', { breaker: { cooldown: '25d' } }],
    ['redisTimeout', { redisTimeout: '25d' }],
    ['bus.maxAge', { bus: { maxAge: '25d' } }],
  ]
  for (const [option, options] of cases) {
    it(`rejects ${option} past 2^31-1 ms with E_INVALID_OPTION naming it`, () => {
      const err = thrown(() => createCache(options))
      expect(err.code).toBe('E_INVALID_OPTION')
      expect(err.option).toBe(option)
      expect(err.message).toContain('2^31-1')
    })
  }

  it('accepts exactly 2^31-1 ms', async () => {
    const cache = createCache({ timeouts: { hard: 2 ** 31 - 1 }, lock: { ttl: 2 ** 31 - 1 } })
    expect(await cache.getOrSet(uniqueKey('max'), () => 1)).toBe(1)
    await cache.close()
  })

  it('rejects a timer duration given per call', async () => {
    const cache = createCache()
    const err = await rejected(cache.getOrSet(uniqueKey('call'), () => 1, { timeouts: { hard: '25d' } }))
    expect(err.code).toBe('E_INVALID_OPTION')
    expect(err.option).toBe('timeouts.hard')
    await cache.close()
  })
})

describe('option rules between and within fields', () => {
  it('rejects redisTimeout: 0 with a hint instead of meaning "no deadline"', () => {
    const err = thrown(() => createCache({ redisTimeout: 0 }))
    expect(err.code).toBe('E_INVALID_OPTION')
    expect(err.option).toBe('redisTimeout')
    expect(err.message).toContain('no deadline')
  })

  it('rejects timeouts.soft above timeouts.hard, also when the layers meet', async () => {
    const err = thrown(() => createCache({ timeouts: { soft: '2s', hard: '1s' } }))
    expect(err.option).toBe('timeouts.soft')
    const cache = createCache({ timeouts: { hard: '1s' } })
    const late = await rejected(cache.getOrSet(uniqueKey('soft'), () => 1, { timeouts: { soft: '2s' } }))
    expect(late.code).toBe('E_INVALID_OPTION')
    expect(late.option).toBe('timeouts.soft')
    // Equal or below is fine.
    expect(await cache.getOrSet(uniqueKey('soft'), () => 2, { timeouts: { soft: '500ms' } })).toBe(2)
    await cache.close()
  })

  it('rejects a bus.maxAge too small to deliver anything', () => {
    const err = thrown(() => createCache({ bus: { maxAge: '10ms' } }))
    expect(err.code).toBe('E_INVALID_OPTION')
    expect(err.option).toBe('bus.maxAge')
  })

  it('rejects ttl beyond what Redis PX accepts', () => {
    for (const options of [
      { ttl: 1e19 },
      { staleTtl: '1000000y' },
      { ttl: MAX_TTL_MS, staleTtl: MAX_TTL_MS },
    ]) {
      const err = thrown(() => createCache(options))
      expect(err.code).toBe('E_INVALID_OPTION')
      expect(['ttl', 'staleTtl']).toContain(err.option)
    }
  })

  it('answers null call options with a coded error, not a TypeError', async () => {
    const cache = createCache()
    const k = uniqueKey('null')
    const bad = null as unknown as undefined
    for (const p of [cache.getOrSet(k, () => 1, bad), cache.set(k, 1, bad)]) {
      const err = await rejected(p)
      expect(err.code).toBe('E_INVALID_OPTION')
    }
    await cache.close()
  })

  it('names the option when its type is wrong', () => {
    const cases: Array<[string, unknown]> = [
      ['l1.max', { l1: { max: '100' } }],
      ['ttl', { ttl: {} }],
      ['logger', { logger: {} }],
      ['logger', { logger: () => {} }],
      ['timeouts', { timeouts: 5 }],
    ]
    for (const [option, options] of cases) {
      const err = thrown(() => createCache(options as CacheOptions))
      expect(err.code).toBe('E_INVALID_OPTION')
      expect(err.option).toBe(option)
    }
  })
})

describe('redis URLs', () => {
  it('rejects a URL with a non-numeric port with E_INVALID_OPTION and no password in the message', () => {
    const err = thrown(() => createCache({ redis: 'redis://user:s3cret@127.0.0.1:abc' }))
    expect(err.code).toBe('E_INVALID_OPTION')
    expect(err.option).toBe('redis')
    expect(err.message).not.toContain('s3cret')
  })
})

describe('values, loaders and keys on real Redis', () => {
  let cache: Cache
  beforeAll(() => {
    cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), l1: true })
  })
  afterAll(async () => {
    await cache.close()
  })

  it('rejects a function value with E_SERIALIZE and getOrSet then runs its loader', async () => {
    const k = uniqueKey('fn')
    const err = await rejected(cache.set(k, () => 1))
    expect(err.code).toBe('E_SERIALIZE')
    let loads = 0
    expect(
      await cache.getOrSet(k, () => {
        loads++
        return 'loaded'
      }),
    ).toBe('loaded')
    expect(loads).toBe(1)
  })

  it('rejects a function nested in an object instead of dropping it', async () => {
    const k = uniqueKey('nested')
    const err = await rejected(cache.set(k, { a: 1, f() {} }))
    expect(err.code).toBe('E_SERIALIZE')
    expect(await cache.has(k)).toBe(false)
  })

  it('returns a loader-produced function to its caller but never stores it', async () => {
    const k = uniqueKey('fnload')
    const skipped: string[] = []
    cache.on('write:skipped', (e) => {
      if (e.key === k) skipped.push(e.reason)
    })
    const fn = () => 1
    let loads = 0
    const loader = () => {
      loads++
      return fn
    }
    expect(await cache.getOrSet(k, loader)).toBe(fn)
    expect(await cache.getOrSet(k, loader)).toBe(fn)
    expect(loads).toBe(2)
    expect(skipped).toEqual(['serialize', 'serialize'])
  })

  it('reads a Map back as a plain object with string keys, as the README says', async () => {
    const k = uniqueKey('map')
    await cache.set(
      k,
      new Map<unknown, unknown>([
        ['a', 1],
        [2, 'b'],
      ]),
    )
    const other = createCache({ redis: sharedRedis().url, prefix: cache.prefix })
    expect(await other.get(k)).toEqual({ a: 1, 2: 'b' })
    await other.close()
  })

  it('gives a non-function loader, set(k, undefined) and a short batch their own codes', async () => {
    const k = uniqueKey('codes')
    const notFn = 'x' as unknown as () => number
    expect((await rejected(cache.getOrSet(k, notFn))).code).toBe('E_INVALID_LOADER')
    expect((await rejected(cache.set(k, undefined))).code).toBe('E_INVALID_VALUE')
    expect((await rejected(cache.getOrSetMany([k], notFn as never))).code).toBe('E_INVALID_LOADER')
    const short = await rejected(cache.getOrSetMany([uniqueKey('b1'), uniqueKey('b2')], () => [1]))
    expect(short.code).toBe('E_BATCH_LOADER')
    expect(isCacheError(short)).toBe(true)
    for (const name of ['InvalidLoaderError', 'InvalidValueError', 'BatchLoaderError', 'ClusterNodeError']) {
      expect(Object.keys(errors)).toContain(name)
    }
  })

  it('rejects keys with lone surrogates, which would share one Redis key', async () => {
    const a = `${uniqueKey('sur')}\uD800`
    const b = `${a.slice(0, -1)}\uDBFF`
    for (const p of [cache.set(a, 'a'), cache.get(b), cache.getOrSet(b, () => 'b')]) {
      expect((await rejected(p)).code).toBe('E_INVALID_KEY')
    }
    const emoji = `${uniqueKey('emoji')}😀`
    await cache.set(emoji, 'ok')
    expect(await cache.get(emoji)).toBe('ok')
  })

  it('stores an entry at the largest ttl it accepts', async () => {
    const k = uniqueKey('maxttl')
    await cache.set(k, 'long', { ttl: MAX_TTL_MS - 3_600_000, staleTtl: '1h' })
    const other = createCache({ redis: sharedRedis().url, prefix: cache.prefix })
    expect(await other.get(k)).toBe('long')
    await other.close()
  })
})

describe('the entry format is unchanged by refusing functions', () => {
  it('encodes plain values to the same bytes as before, so existing entries still decode', () => {
    // The options the envelope used before functions were refused.
    const before = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true })
    const value = {
      a: 1,
      s: new Set([1, 2]),
      d: new Date(0),
      b: Buffer.from('hi'),
      n: 10n,
      list: [null, 'x'],
    }
    const entry = { value, createdAt: 1, freshUntil: 2, staleUntil: 3, loadMs: 4, tags: ['t'] }
    const bytes = encodeEntry('k', entry)
    // The 22-byte header (entry/envelope.ts), then the msgpack body as before.
    expect(bytes.subarray(22).equals(before.pack([value, ['t']]))).toBe(true)
    expect(decodeEntry('k', bytes).value).toEqual(value)
  })
})

describe('the L1 hit path checks what every call checks', () => {
  it('a key held in L1 still refuses a bad loader, answers after close() with E_CLOSED, and never lets a bad key hit', async () => {
    const c = createCache({ l1: { max: 100 } })
    const key = uniqueKey('l1fast')
    expect(await c.getOrSet(key, () => 'v')).toBe('v')
    expect(await c.getOrSet(key, () => 'other')).toBe('v') // an L1 hit
    expect((await rejected(c.getOrSet(key, 'nope' as never))).code).toBe('E_INVALID_LOADER')
    expect((await rejected(c.getOrSet(String(key.length) as never, 5 as never))).code).toBe(
      'E_INVALID_LOADER',
    )
    expect((await rejected(c.getOrSet(42 as never, () => 'x'))).code).toBe('E_INVALID_KEY')
    expect((await rejected(c.getOrSet('', () => 'x'))).code).toBe('E_INVALID_KEY')
    await c.close()
    expect((await rejected(c.getOrSet(key, () => 'v'))).code).toBe('E_CLOSED')
  })
})
