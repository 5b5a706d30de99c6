import { Packr } from 'msgpackr'
import { DecodeError, SerializationError } from '../errors'

/**
 * One Redis string per entry:
 *
 *   byte 0       MAGIC (0xD7) — anything else is not ours: a miss
 *   bytes 1-8    createdAt   float64 BE (ms)  — Lua fences stale writers on it
 *   bytes 9-16   freshUntil  float64 BE (ms)  — Lua rewrites it in place for expire()
 *   bytes 17-24  staleUntil  float64 BE (ms)
 *   bytes 25-28  loadMs      uint32 BE        — the loader's duration, for XFetch
 *   bytes 29-    msgpack [value, tags?]
 *
 * A fixed header lets Lua scripts read and rewrite the timestamps with `struct` without
 * decoding the value, and lets the hot path read them with three DataView loads.
 */
export const MAGIC = 0xd7
export const HEADER_BYTES = 29

export interface Entry<T = unknown> {
  value: T
  createdAt: number
  freshUntil: number
  staleUntil: number
  loadMs: number
  tags: readonly string[]
  /** Encoded size in bytes, when known (L1 byte accounting). */
  size?: number
}

const EMPTY_TAGS: readonly string[] = Object.freeze([])

// useRecords off: records need structures shared out of band, which other processes lack.
// mapsAsObjects + a null-prototype-safe decode keeps `__proto__` keys from polluting anything.
const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true })

export function encodeEntry(key: string, entry: Entry): Buffer {
  let body: Buffer
  try {
    body = packr.pack(entry.tags.length === 0 ? [entry.value] : [entry.value, entry.tags])
  } catch (cause) {
    throw new SerializationError(key, cause)
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  out[0] = MAGIC
  out.writeDoubleBE(entry.createdAt, 1)
  out.writeDoubleBE(entry.freshUntil, 9)
  out.writeDoubleBE(entry.staleUntil, 17)
  out.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(entry.loadMs))), 25)
  body.copy(out, HEADER_BYTES)
  return out
}

/** Decode bytes from a store. Throws DecodeError for anything that is not a valid envelope. */
export function decodeEntry<T = unknown>(key: string, bytes: Buffer): Entry<T> {
  if (bytes.length <= HEADER_BYTES || bytes[0] !== MAGIC) throw new DecodeError(key, 'bad header')
  const createdAt = bytes.readDoubleBE(1)
  const freshUntil = bytes.readDoubleBE(9)
  const staleUntil = bytes.readDoubleBE(17)
  if (!(createdAt > 0 && freshUntil >= 0 && staleUntil >= freshUntil - 1 && Number.isFinite(staleUntil))) {
    throw new DecodeError(key, 'bad timestamps')
  }
  let body: unknown
  try {
    body = packr.unpack(bytes.subarray(HEADER_BYTES))
  } catch (cause) {
    throw new DecodeError(key, 'undecodable body', cause)
  }
  if (!Array.isArray(body) || body.length < 1 || body.length > 2) throw new DecodeError(key, 'bad body shape')
  let tags = EMPTY_TAGS
  if (body.length === 2) {
    const t = body[1]
    if (!Array.isArray(t) || !t.every((x) => typeof x === 'string')) throw new DecodeError(key, 'bad tags')
    tags = t
  }
  return {
    value: body[0] as T,
    createdAt,
    freshUntil,
    staleUntil,
    loadMs: bytes.readUInt32BE(25),
    tags,
    size: bytes.length,
  }
}

/** Plain msgpack, for bus messages and HTTP bodies. */
export function pack(value: unknown): Buffer {
  return packr.pack(value)
}
export function unpack(bytes: Buffer): unknown {
  return packr.unpack(bytes)
}
