import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeEntry, encodeEntry, HEADER_BYTES, lengthsFit, MAGIC } from '../src/entry/envelope'
import { type Cache, type CacheError, createCache } from '../src/index'

/** Bytes from Redis are input: every outcome of decodeEntry is a value or an E_DECODE error. */
function decodeOutcome(bytes: Buffer): 'ok' | 'E_DECODE' {
  try {
    decodeEntry('fuzz', bytes)
    return 'ok'
  } catch (err) {
    const code = (err as Partial<CacheError>).code
    if (code !== 'E_DECODE') throw new Error(`decodeEntry threw a non-DecodeError: ${String(err)}`)
    return 'E_DECODE'
  }
}

function header(): Buffer {
  const h = Buffer.alloc(HEADER_BYTES)
  const now = Date.now()
  h[0] = MAGIC
  h.writeUIntBE(now, 1, 6)
  h.writeUIntBE(now + 60_000, 7, 6)
  h.writeUIntBE(now + 120_000, 13, 6)
  return h
}

const envelope = (body: Buffer) => Buffer.concat([header(), body])

/** A msgpack map of fixstr keys (each value one already-encoded msgpack item). */
function map(entries: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80 | entries.length])]
  for (const [k, v] of entries) {
    const kb = Buffer.from(k)
    parts.push(Buffer.from([0xa0 | kb.length]), kb, v)
  }
  return Buffer.concat(parts)
}

const one = Buffer.from([0x01])
const POLLUTERS: Buffer[] = [
  map([['__proto__', map([['polluted', one]])]]),
  map([['constructor', map([['prototype', map([['polluted', one]])]])]]),
  map([
    ['__proto__', map([['toString', one]])],
    ['constructor', one],
    ['prototype', one],
  ]),
]

/** Five-byte headers that claim gigabytes; the nested one preallocated 839 MB before the fix. */
const HOSTILE_LENGTHS: Array<[string, Buffer]> = [
  ['str32 ffffffff', Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
  ['bin32 ffffffff', Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x61])],
  ['array32 ffffffff', Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])],
  ['array32 001fffff', Buffer.from([0xdd, 0x00, 0x1f, 0xff, 0xff, 0x01])],
  ['map32 ffffffff', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0x01])],
  ['ext32 ffffffff', Buffer.from([0xc9, 0xff, 0xff, 0xff, 0xff, 0x65, 0x01])],
  ['array16 in [value]', Buffer.from([0x91, 0xdc, 0xff, 0xff])],
  ['50 nested array32 001fffff', Buffer.concat(Array(50).fill(Buffer.from([0xdd, 0x00, 0x1f, 0xff, 0xff])))],
  ['Set ext then array32', Buffer.from([0xd4, 0x73, 0x00, 0xdd, 0x00, 0x1f, 0xff, 0xff])],
]

const heapUsed = () => process.memoryUsage().heapUsed

/** Value-ish data with prototype-flavoured keys mixed in. */
const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'a', '')
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 4 })), tie('value'), { maxKeys: 5 }),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.date({ noInvalidDate: true }),
  ),
})).value

describe('envelope decoder fuzz', () => {
  it('decodes 20,000 random byte arrays to a value or E_DECODE, nothing else', () => {
    const outcomes = { ok: 0, E_DECODE: 0 }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        outcomes[decodeOutcome(Buffer.from(bytes))]++
      }),
      { numRuns: 10_000 },
    )
    // Random bodies behind a valid header: reaches msgpackr instead of stopping at the magic byte.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), (bytes) => {
        outcomes[decodeOutcome(envelope(Buffer.from(bytes)))]++
      }),
      { numRuns: 10_000 },
    )
    expect(outcomes.ok + outcomes.E_DECODE).toBe(20_000)
    expect(outcomes.E_DECODE).toBeGreaterThan(10_000)
  })

  it('survives 10,000 mutated valid envelopes: flips, truncations, splices of hostile lengths', () => {
    const outcomes = { ok: 0, E_DECODE: 0 }
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('splice' as const),
        at: fc.nat(),
        with: fc.nat(HOSTILE_LENGTHS.length - 1),
      }),
    )
    fc.assert(
      fc.property(valueArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (value, mutations) => {
        let bytes = encodeEntry('fuzz', {
          value,
          createdAt: Date.now(),
          freshUntil: Date.now() + 1000,
          staleUntil: Date.now() + 2000,
          loadMs: 3,
          tags: [],
        })
        for (const m of mutations) {
          const at = m.at % bytes.length
          if (m.kind === 'flip') bytes[at] = m.byte
          else if (m.kind === 'truncate') bytes = bytes.subarray(0, at)
          else {
            const [, hostile] = HOSTILE_LENGTHS[m.with] as [string, Buffer]
            bytes = Buffer.concat([bytes.subarray(0, Math.max(at, HEADER_BYTES)), hostile])
          }
        }
        outcomes[decodeOutcome(bytes)]++
      }),
      { numRuns: 10_000 },
    )
    expect(outcomes.ok + outcomes.E_DECODE).toBe(10_000)
    expect(outcomes.E_DECODE).toBeGreaterThan(1_000)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('round-trips every generated value unchanged (the length walk refuses nothing we write)', () => {
    fc.assert(
      fc.property(valueArb, fc.array(fc.string(), { maxLength: 3 }), (value, tags) => {
        const entry = { value, createdAt: 1, freshUntil: 2, staleUntil: 3, loadMs: 0, tags }
        const bytes = encodeEntry('rt', entry)
        expect(lengthsFit(bytes.subarray(HEADER_BYTES))).toBe(true)
        expect(decodeOutcome(bytes)).toBe('ok')
      }),
      { numRuns: 3_000 },
    )
    // Arrays long enough for array16/array32 headers, Sets, Errors and RegExps too.
    for (const value of [
      Array.from({ length: 70_000 }, (_, i) => i % 7),
      new Set(Array.from({ length: 100 }, (_, i) => i)),
      [new Error('e'), /x+/g, new Uint8Array([0xdd, 0xdc])],
      { list: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `n${i}` })) },
    ]) {
      const entry = { value, createdAt: 1, freshUntil: 2, staleUntil: 3, loadMs: 0, tags: ['t'] }
      expect(decodeEntry('rt', encodeEntry('rt', entry)).value).toEqual(value)
    }
  })

  it.each(HOSTILE_LENGTHS)('refuses %s without allocating for the claimed length', (_name, body) => {
    // The walk says no before msgpackr sees the bytes ...
    expect(lengthsFit(body)).toBe(false)
    const before = heapUsed()
    for (let i = 0; i < 20; i++) expect(decodeOutcome(envelope(body))).toBe('E_DECODE')
    expect(decodeOutcome(envelope(Buffer.concat([Buffer.from([0x91]), body])))).toBe('E_DECODE')
    // ... so nothing is allocated: 20 decodes of `dd 00 1f ff ff` preallocated 134 MB each before.
    expect(heapUsed() - before).toBeLessThan(32 * 1024 * 1024)
  })

  it('never pollutes prototypes through __proto__ / constructor keys', () => {
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort()
    for (const m of POLLUTERS) {
      const value = decodeEntry('p', envelope(m)).value as object
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect((value as Record<string, unknown>).polluted).toBeUndefined()
      expect(Object.hasOwn(value, '__proto__')).toBe(false)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString)
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys)
  })
})

describe('getOrSet over hostile bytes in Redis', () => {
  let cache: Cache
  let raw: Redis
  const errors: string[] = []
  beforeAll(() => {
    cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), l1: false, bus: false })
    cache.on('error', (e) => errors.push(e.error.code))
    raw = new Redis(sharedRedis().url)
  })
  afterAll(async () => {
    await cache.close()
    await raw.quit()
  })

  it('answers from the loader for 400 hostile values, never rejects, E_DECODE events only', async () => {
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 100 }).map((b) => envelope(Buffer.from(b))),
      fc.constantFrom(...HOSTILE_LENGTHS.map(([, b]) => envelope(b)), ...POLLUTERS.map((m) => envelope(m))),
    )
    let undecodable = 0
    await fc.assert(
      fc.asyncProperty(bodies, async (bytes) => {
        const key = uniqueKey('hostile')
        await raw.set(cache.entryKey(key), bytes, 'PX', 60_000)
        const before = errors.length
        const got = await cache.getOrSet(key, () => 'from-loader')
        const outcome = decodeOutcome(bytes)
        if (outcome === 'E_DECODE') {
          undecodable++
          expect(got).toBe('from-loader')
          // One per read: the miss, then the re-check under the lock.
          const seen = errors.slice(before)
          expect(seen.length).toBeGreaterThanOrEqual(1)
          expect(seen.length).toBeLessThanOrEqual(2)
          expect(new Set(seen)).toEqual(new Set(['E_DECODE']))
        }
      }),
      { numRuns: 400 },
    )
    expect(undecodable).toBeGreaterThan(300)
    expect(errors.every((c) => c === 'E_DECODE')).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
