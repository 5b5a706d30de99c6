import { sharedCluster, sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheError, createCache } from '../src/index'
import { keySlot } from '../src/tools'

const HOSTILE = [
  '{',
  '{}',
  '{x}',
  'a}b{c',
  'x{',
  '*',
  '?',
  '[',
  '[a-z]',
  'a*',
  'a?c',
  'a[bc]',
  '\\',
  '\\*',
  'line\nbreak',
  'crlf\r\nSET x y',
  ' spaced key ',
  'ünïcödé ключ 键',
  '🔥🐄 emoji',
  '\u0000nul',
  ':lock',
  'tag:{users}',
]

const rejectionCode = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e as Partial<CacheError>).code,
  )

describe('hostile keys', () => {
  let cache: Cache
  let raw: Redis
  let prefix: string
  const errors: string[] = []
  beforeAll(() => {
    prefix = uniquePrefix()
    cache = createCache({ redis: sharedRedis().url, prefix, l1: { max: 100 } })
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
    raw = new Redis(sharedRedis().url)
  })
  afterAll(async () => {
    await cache.close()
    await raw.quit()
  })

  it.each(HOSTILE)('%j round-trips, lives under the prefix, and its lock shares its slot', async (key) => {
    let loads = 0
    expect(await cache.getOrSet(key, () => `v:${key}:${++loads}`)).toBe(`v:${key}:1`)
    expect(await cache.getOrSet(key, () => `v:${key}:${++loads}`)).toBe(`v:${key}:1`)
    expect(loads).toBe(1)
    await cache.set(key, { key })
    expect(await cache.get(key)).toEqual({ key })
    const entry = cache.entryKey(key)
    expect(entry).toBe(`${prefix}:{${key}}`)
    expect(await raw.exists(entry)).toBe(1)
    expect(keySlot(`${entry}:lock`)).toBe(keySlot(entry))
    expect(errors).toEqual([])
  })

  it('a key starting with } is refused with E_INVALID_KEY (its lock would hash to another slot)', async () => {
    // `{}` is an empty hash tag: Redis hashes such keys whole, so entry and lock part ways.
    expect(keySlot(`${prefix}:{}}:lock`)).not.toBe(keySlot(`${prefix}:{}}`))
    for (const key of ['}', '}x{y}']) {
      expect(await rejectionCode(cache.getOrSet(key, () => 1))).toBe('E_INVALID_KEY')
      expect(await rejectionCode(cache.set(key, 1))).toBe('E_INVALID_KEY')
    }
  })

  it('10 KB keys: E_INVALID_KEY under the default maxKeyLength (1024), fine when raised', async () => {
    const big = 'k'.repeat(10 * 1024)
    expect(await rejectionCode(cache.getOrSet(big, () => 1))).toBe('E_INVALID_KEY')
    expect(await rejectionCode(cache.set(big, 1))).toBe('E_INVALID_KEY')
    expect(await rejectionCode(cache.get(big))).toBe('E_INVALID_KEY')
    expect(await rejectionCode(cache.delete(big))).toBe('E_INVALID_KEY')
    expect(await rejectionCode(cache.invalidatePattern(`${big}*`))).toBe('E_INVALID_KEY')
    const roomy = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), maxKeyLength: 20_000 })
    try {
      const emoji = '🐄'.repeat(2_500) // 5,000 UTF-16 units, 10 KB of UTF-8
      for (const key of [big, emoji]) {
        let loads = 0
        expect(await roomy.getOrSet(key, () => ++loads)).toBe(1)
        expect(await roomy.getOrSet(key, () => ++loads)).toBe(1)
        expect(keySlot(`${roomy.entryKey(key)}:lock`)).toBe(keySlot(roomy.entryKey(key)))
      }
    } finally {
      await roomy.close()
    }
  })

  it('invalidatePattern deletes what the glob matches inside this namespace, nothing else', async () => {
    const p = uniquePrefix()
    const c = createCache({ redis: sharedRedis().url, prefix: p, l1: false, bus: false })
    const other = createCache({ redis: sharedRedis().url, prefix: `${p}x`, l1: false, bus: false })
    const ns = c.namespace('a')
    try {
      const keys = ['*', 'a', 'a*', 'ab', 'a}b', 'b*a', '[a]', '?', 'xa', 'x*']
      await Promise.all(keys.map((k) => c.set(k, k)))
      await Promise.all(keys.map((k) => ns.set(k, k)))
      await Promise.all(keys.map((k) => other.set(k, k)))
      await c.getOrSet('a-tagged', () => 1, { tags: ['a'] })
      await c.invalidateTags('a')

      // 'x*' matches only keys that start with x; the key literally named '*' survives.
      expect(await c.invalidatePattern('x*')).toBe(2)
      expect(await c.get('*')).toBe('*')
      expect(await c.get('x*')).toBeUndefined()

      // 'a*': a, a*, ab, a}b (and a-tagged) — not the tag key, not the namespace, not the other prefix.
      expect(await c.invalidatePattern('a*')).toBe(5)
      const left = async (cache: Cache) =>
        (await Promise.all(keys.map(async (k) => ((await cache.get(k)) === undefined ? [] : [k])))).flat()
      expect(await left(c)).toEqual(['*', 'b*a', '[a]', '?'])
      expect(await left(ns)).toEqual(keys)
      expect(await left(other)).toEqual(keys)
      expect(await raw.exists(`${p}:tag:{a}`)).toBe(1)

      // Glob characters in the pattern are the caller's; escaped ones match literally.
      expect(await c.invalidatePattern('\\*')).toBe(1)
      expect(await left(c)).toEqual(['b*a', '[a]', '?'])

      // A namespace's clear() stays in the namespace.
      expect(await ns.clear()).toBe(keys.length)
      expect(await left(other)).toEqual(keys)
      expect(await left(c)).toEqual(['b*a', '[a]', '?'])
    } finally {
      await Promise.all([c.clear(), other.clear()])
      await Promise.all([c.close(), other.close()])
    }
  })
})

describe('hostile keys on Redis Cluster', () => {
  it('every hostile key loads through the entry+lock write script without CROSSSLOT', async () => {
    const cache = createCache({
      redis: { cluster: sharedCluster().startupNodes },
      prefix: uniquePrefix(),
      l1: false,
    })
    const errors: string[] = []
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
    try {
      let loads = 0
      for (const key of HOSTILE) {
        expect(await cache.getOrSet(key, () => `v${++loads}`)).toBe(`v${loads}`)
        // A second call is an L2 hit: the script wrote the entry (a CROSSSLOT would have left nothing).
        expect(await cache.getOrSet(key, () => 'again')).toBe(`v${loads}`)
      }
      expect(loads).toBe(HOSTILE.length)
      expect(await cache.invalidatePattern('a*')).toBe(4) // a*, a?c, a[bc], a}b{c
      expect(errors).toEqual([])
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
