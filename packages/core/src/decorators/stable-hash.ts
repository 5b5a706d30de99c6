import { createHash } from 'node:crypto'
import { InvalidKeyError } from '../errors'

/**
 * A canonical string for a value: JSON with object keys sorted, so `{ a, b }` and `{ b, a }`
 * give the same key. It goes a little past JSON where JSON would collide or lose the value:
 * `undefined`, NaN and Infinity keep their names, bigints end in `n`, Dates, Maps, Sets and
 * byte arrays are tagged. Functions, symbols and cycles cannot name a cache entry: they throw
 * E_INVALID_KEY (give the decorator a `key` function instead).
 */
export function stableStringify(value: unknown): string {
  return encode(value, [])
}

/**
 * sha256 of stableStringify(value), base64url, first 22 characters (132 bits): short enough
 * for a key, far from any collision a cache would meet.
 */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('base64url').slice(0, 22)
}

function encode(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return 'undefined'
    case 'bigint':
      return `${value}n`
    case 'function':
    case 'symbol':
      throw new InvalidKeyError(
        `A ${typeof value} cannot be part of a default cache key; give the decorator a key function.`,
      )
  }
  if (value === null) return 'null'
  const obj = value as object
  if (ancestors.includes(obj)) {
    throw new InvalidKeyError(
      'A circular structure cannot be part of a default cache key; give the decorator a key function.',
    )
  }
  ancestors.push(obj)
  try {
    return encodeObject(obj, ancestors)
  } finally {
    ancestors.pop()
  }
}

function encodeObject(obj: object, ancestors: object[]): string {
  if (Array.isArray(obj)) return `[${obj.map((v) => encode(v, ancestors)).join(',')}]`
  if (obj instanceof Date) {
    const t = obj.getTime()
    return Number.isNaN(t) ? 'Date(NaN)' : `Date(${obj.toISOString()})`
  }
  if (obj instanceof Map) {
    const entries = [...obj].map(([k, v]) => `${encode(k, ancestors)}=>${encode(v, ancestors)}`)
    return `Map{${entries.sort().join(',')}}`
  }
  if (obj instanceof Set) {
    return `Set[${[...obj]
      .map((v) => encode(v, ancestors))
      .sort()
      .join(',')}]`
  }
  if (ArrayBuffer.isView(obj)) {
    const bytes = Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength)
    return `${obj.constructor.name}(${bytes.toString('base64')})`
  }
  if (obj instanceof ArrayBuffer) return `ArrayBuffer(${Buffer.from(obj).toString('base64')})`
  if (obj instanceof RegExp) return `RegExp(${String(obj)})`
  const toJSON = (obj as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return encode(toJSON.call(obj), ancestors)
  const record = obj as Record<string, unknown>
  const parts: string[] = []
  for (const key of Object.keys(record).sort()) {
    const v = record[key]
    // JSON semantics: a property holding undefined is the same as a missing one.
    if (v === undefined) continue
    parts.push(`${JSON.stringify(key)}:${encode(v, ancestors)}`)
  }
  return `{${parts.join(',')}}`
}
