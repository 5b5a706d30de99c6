import { Packr } from 'msgpackr'
import { DecodeError, SerializationError } from '../errors'

/**
 * One Redis string per entry:
 *
 *   byte 0       MAGIC: 0xD8 (the body is the value) or 0xD9 (the body is [value, tags]);
 *                anything else is not ours: a miss (0xD7 was the 29-byte header before 0.x)
 *   bytes 1-6    createdAt   uint48 BE (ms)  — Lua fences stale writers on it
 *   bytes 7-12   freshUntil  uint48 BE (ms)  — Lua rewrites it in place for expire()
 *   bytes 13-18  staleUntil  uint48 BE (ms)
 *   bytes 19-21  loadMs      uint24 BE (ms, capped at 4.6 h) — the loader's duration, for XFetch
 *   bytes 22-    msgpack body
 *
 * A fixed header lets Lua scripts read and rewrite the timestamps with `struct` without
 * decoding the value. 48-bit milliseconds last until the year 10889; the header is 22 bytes
 * and an untagged value carries no array wrapper, so an entry is the raw msgpack value + 22 B.
 */
export const MAGIC = 0xd8
export const MAGIC_TAGGED = 0xd9
export const HEADER_BYTES = 22
const MAX_U48 = 2 ** 48 - 1
const MAX_U24 = 2 ** 24 - 1

export interface Entry<T = unknown> {
  value: T
  createdAt: number
  freshUntil: number
  staleUntil: number
  loadMs: number
  tags: readonly string[]
  /** Encoded size in bytes, when known (L1 byte accounting). */
  size?: number
  /**
   * Set by the engine when a tag invalidation is newer than this entry's load: it is then a
   * stale-if-error fallback only, never served while the key reloads (docs/consistency.md).
   */
  invalidated?: boolean
  /** With `invalidated` from Redis: the newest tag time (ms) at or after createdAt. */
  invalidatedAt?: number
}

const EMPTY_TAGS: readonly string[] = Object.freeze([])

/** Thrown from inside msgpackr's pack: encodeEntry turns it into E_SERIALIZE. */
class FunctionValueError extends Error {}

// useRecords off: records need structures shared out of band, which other processes lack.
// mapsAsObjects + a null-prototype-safe decode keeps `__proto__` keys from polluting anything;
// it also means a Map reads back as a plain object (msgpack has one map type, and msgpackr packs
// a Map before consulting extensions, so it cannot be tagged). `mapsAsObjects: false` would
// turn every object into a Map instead.
// writeFunction: msgpackr encodes a function as nil by default, so `set(k, () => 1)` stored
// undefined (served as a hit holding undefined) and `{ f() {} }` lost `f` silently. Refuse both.
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  mapsAsObjects: true,
  writeFunction: () => {
    throw new FunctionValueError('functions cannot be cached')
  },
})

export function encodeEntry(key: string, entry: Entry): Buffer {
  const tagged = entry.tags.length > 0
  let body: Buffer
  try {
    body = packr.pack(tagged ? [entry.value, entry.tags] : entry.value)
  } catch (cause) {
    throw new SerializationError(key, cause)
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  out[0] = tagged ? MAGIC_TAGGED : MAGIC
  out.writeUIntBE(u48(entry.createdAt), 1, 6)
  out.writeUIntBE(u48(entry.freshUntil), 7, 6)
  out.writeUIntBE(u48(entry.staleUntil), 13, 6)
  out.writeUIntBE(Math.min(MAX_U24, Math.max(0, Math.round(entry.loadMs))), 19, 3)
  body.copy(out, HEADER_BYTES)
  return out
}

function u48(ms: number): number {
  return Math.min(MAX_U48, Math.max(0, Math.round(ms)))
}

/** Whether bytes carry our header (either MAGIC): what the stores' Lua and memory twins check. */
export function isEnvelope(b: Uint8Array): boolean {
  return b.length > HEADER_BYTES && (b[0] === MAGIC || b[0] === MAGIC_TAGGED)
}

/** Decode bytes from a store. Throws DecodeError for anything that is not a valid envelope. */
export function decodeEntry<T = unknown>(key: string, bytes: Buffer): Entry<T> {
  if (!isEnvelope(bytes))
    throw new DecodeError(key, bytes[0] === 0xd7 ? 'older envelope format' : 'bad header')
  const createdAt = bytes.readUIntBE(1, 6)
  const freshUntil = bytes.readUIntBE(7, 6)
  const staleUntil = bytes.readUIntBE(13, 6)
  if (!(createdAt > 0 && staleUntil >= freshUntil - 1)) throw new DecodeError(key, 'bad timestamps')
  let body: unknown
  const raw = bytes.subarray(HEADER_BYTES)
  if (!safeToUnpack(raw)) throw new DecodeError(key, 'declared lengths exceed the bytes present')
  try {
    body = packr.unpack(raw)
  } catch (cause) {
    throw new DecodeError(key, 'undecodable body', cause)
  }
  let value = body
  let tags = EMPTY_TAGS
  if (bytes[0] === MAGIC_TAGGED) {
    if (!Array.isArray(body) || body.length !== 2) throw new DecodeError(key, 'bad body shape')
    const t = body[1]
    if (!Array.isArray(t) || !t.every((x) => typeof x === 'string')) throw new DecodeError(key, 'bad tags')
    value = body[0]
    tags = t
  }
  return {
    value: value as T,
    createdAt,
    freshUntil,
    staleUntil,
    loadMs: bytes.readUIntBE(19, 3),
    tags,
    size: bytes.length,
  }
}

/** ext types whose msgpackr reader goes on to read the next value (Error, Set, RegExp). */
const EXT_READS_NEXT = new Set([0x65, 0x73, 0x78])
/** ext types we never write and whose readers walk bytes on their own (records, bundled strings, structured-clone ids). */
const EXT_REFUSED = new Set([0x62, 0x69, 0x72])
const VARIABLE = 255
/** Bytes after the type byte of fixed-size tokens (fixstr included); VARIABLE for the rest. */
const FIXED = (() => {
  const t = new Uint8Array(256)
  for (let i = 0xa0; i <= 0xbf; i++) t[i] = i & 0x1f
  const sizes = [0xca, 4, 0xcb, 8, 0xcc, 1, 0xcd, 2, 0xce, 4, 0xcf, 8, 0xd0, 1, 0xd1, 2, 0xd2, 4, 0xd3, 8]
  for (let i = 0; i < sizes.length; i += 2) t[sizes[i] as number] = sizes[i + 1] as number
  for (let i = 0x80; i <= 0x9f; i++) t[i] = VARIABLE
  for (const i of [0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8]) t[i] = VARIABLE
  for (let i = 0xd9; i <= 0xdf; i++) t[i] = VARIABLE
  return t
})()
const u16 = (b: Uint8Array, p: number) => ((b[p] as number) << 8) | (b[p + 1] as number)
const u32 = (b: Uint8Array, p: number) =>
  (b[p] as number) * 0x1000000 +
  (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))

/**
 * msgpackr runs `new Array(n)` for an array header before reading a single element, so five
 * hostile bytes (`dd 00 1f ff ff`) cost 134-268 MB of heap and a few dozen nested ones
 * exhaust it. Walk the structure first, allocating nothing: every declared element needs at
 * least one of the bytes that remain, and the value must end exactly where the bytes do (as
 * msgpackr itself requires). This bounds the slots msgpackr can preallocate by the input size.
 * About 1.7 ns per byte.
 */
export function lengthsFit(b: Uint8Array): boolean {
  const n = b.length
  let p = 0
  let need = 1
  while (need > 0) {
    if (p >= n) return false
    const t = b[p++] as number
    need--
    const fixed = FIXED[t] as number
    if (fixed !== VARIABLE) {
      p += fixed
      continue
    }
    let items = 0
    if (t <= 0x8f) items = 2 * (t & 0x0f)
    else if (t <= 0x9f) items = t & 0x0f
    else if (t === 0xdc || t === 0xde) {
      if (p + 2 > n) return false
      items = u16(b, p) * (t === 0xde ? 2 : 1)
      p += 2
    } else if (t === 0xdd || t === 0xdf) {
      if (p + 4 > n) return false
      items = u32(b, p) * (t === 0xdf ? 2 : 1)
      p += 4
    } else if (t === 0xc4 || t === 0xd9) {
      if (p + 1 > n) return false
      p += 1 + (b[p] as number)
    } else if (t === 0xc5 || t === 0xda) {
      if (p + 2 > n) return false
      p += 2 + u16(b, p)
    } else if (t === 0xc6 || t === 0xdb) {
      if (p + 4 > n) return false
      p += 4 + u32(b, p)
    } else {
      // ext: fixext 1/2/4/8/16 (d4-d8) or ext 8/16/32 (c7-c9), then a type byte and the payload.
      const head = t >= 0xd4 ? 0 : t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4
      if (p + head + 1 > n) return false
      const size =
        t >= 0xd4 ? 1 << (t - 0xd4) : head === 1 ? (b[p] as number) : head === 2 ? u16(b, p) : u32(b, p)
      const type = b[p + head] as number
      if (EXT_REFUSED.has(type)) return false
      if (EXT_READS_NEXT.has(type)) items = 1
      p += head + 1 + size
    }
    need += items
    if (need > n - p) return false
  }
  return p === n
}

/** Plain msgpack, for bus messages and HTTP bodies. */
export function pack(value: unknown): Buffer {
  return packr.pack(value)
}
/** Throws on hostile bytes too (bus messages arrive before their signature is checked). */
export function unpack(bytes: Buffer): unknown {
  if (!safeToUnpack(bytes)) throw new Error('msgpack lengths exceed the bytes present')
  return packr.unpack(bytes)
}

/**
 * 0xdc/0xdd (array 16/32) are the only headers msgpackr preallocates for; without either byte
 * there is nothing to walk, so the common small value pays two memchr calls.
 */
function safeToUnpack(b: Uint8Array): boolean {
  return !(b.includes(0xdc) || b.includes(0xdd)) || lengthsFit(b)
}
