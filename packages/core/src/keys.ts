import { InvalidKeyError, InvalidOptionError } from './errors'

/**
 * Every Redis key and channel Herdless touches is built here, and all begin with the prefix,
 * so one ACL line (`~prefix* &prefix*`) confines a tenant.
 *
 *   entry   <prefix>:[<ns>:]{<key>}          the hash tag puts an entry's keys in one slot
 *   lock    <prefix>:[<ns>:]{<key>}:lock
 *   tag     <prefix>:[<ns>:]tag:{<tag>}
 *   bus     <prefix>:bus  (sharded: <prefix>:bus:{<n>})
 *
 * A user key containing `}` ends the hash tag early; the entry and its lock still share that
 * (shorter) tag, so they stay in one slot. A key beginning with `}` would leave the tag empty
 * (whole-key hashing, entry and lock in different slots): checkKey refuses it.
 */
export class Keyspace {
  readonly prefix: string
  /** `<prefix>:` or `<prefix>:<ns>:` — the start of every entry key of this namespace. */
  readonly base: string

  constructor(prefix: string, namespace?: string) {
    this.prefix = prefix
    this.base = namespace === undefined ? `${prefix}:` : `${prefix}:${namespace}:`
  }

  child(name: string): Keyspace {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || RESERVED.has(name)) {
      throw new InvalidOptionError(
        'namespace',
        `a name of 1-64 characters from A-Z a-z 0-9 _ . - (not ${[...RESERVED].join(', ')})`,
        name,
      )
    }
    return new Keyspace(this.prefix, `${this.base.slice(this.prefix.length + 1)}${name}`)
  }

  entry(key: string): string {
    return `${this.base}{${key}}`
  }

  tag(tag: string): string {
    return `${this.base}tag:{${tag}}`
  }

  /** The tag key of `tag` in the namespace an entry key belongs to (its base has no `{`). */
  static tagOf(entryKey: string, tag: string): string {
    return `${entryKey.slice(0, entryKey.indexOf('{'))}tag:{${tag}}`
  }

  /** SCAN MATCH pattern for user-key glob `pattern` inside this namespace. */
  scanPattern(pattern: string): string {
    return `${escapeGlob(this.base)}\\{${pattern}\\}`
  }
}

const RESERVED = new Set(['tag', 'bus', 'lock'])

export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

/** Cheap enough for every call: type, emptiness, length. */
export function checkKey(key: unknown, maxLength: number): asserts key is string {
  if (typeof key !== 'string')
    throw new InvalidKeyError(`Cache keys must be strings; got ${typeof key}.`, key)
  if (key.length === 0) throw new InvalidKeyError('Cache keys must not be empty.', key)
  // `{}...}` is an empty hash tag: Redis Cluster would hash the entry and its lock whole, into
  // different slots, and the write script would fail with CROSSSLOT.
  if (key.charCodeAt(0) === 125 /* } */) {
    throw new InvalidKeyError(
      'Cache keys must not begin with "}" (the entry and its lock would split across cluster slots).',
      key,
    )
  }
  if (key.length > maxLength) {
    throw new InvalidKeyError(`Key is ${key.length} characters, over maxKeyLength (${maxLength}).`, key)
  }
  // A lone surrogate becomes U+FFFD in UTF-8: 'user:\uD800' and 'user:\uDBFF' would be one
  // Redis key and read each other's entry.
  if ((key as { isWellFormed?: () => boolean }).isWellFormed?.() === false) {
    throw new InvalidKeyError(
      'Cache keys must be well-formed UTF-16 (a lone surrogate, e.g. from slicing an emoji, makes two keys collide in Redis).',
      key,
    )
  }
}

/** CRC16 (XMODEM) of the hash tag, as Redis Cluster computes it: which of 16,384 slots a key lives in. */
export function keySlot(key: string): number {
  const buf = Buffer.from(key)
  let start = 0
  let end = buf.length
  const open = buf.indexOf(123)
  if (open !== -1) {
    const close = buf.indexOf(125, open + 1)
    if (close !== -1 && close !== open + 1) {
      start = open + 1
      end = close
    }
  }
  let crc = 0
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ (CRC_TABLE[((crc >> 8) ^ (buf[i] ?? 0)) & 0xff] ?? 0)
  }
  return crc & 0x3fff
}

const CRC_TABLE = (() => {
  const t = new Array<number>(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    t[i] = c
  }
  return t
})()
