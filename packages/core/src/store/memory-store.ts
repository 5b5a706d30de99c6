import { LRUCache } from 'lru-cache'
import { HEADER_BYTES, MAGIC } from '../entry/envelope'
import type { Store, WriteResult } from './store'

/** The embedded default: one process, no Redis. Same semantics as RedisStore, including locks. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const
  #data: LRUCache<string, Buffer>
  #locks = new Map<string, { token: string; until: number }>()
  #tags = new Map<string, number>()

  constructor(maxEntries = 100_000) {
    this.#data = new LRUCache<string, Buffer>({ max: maxEntries, ttlAutopurge: false, allowStale: false })
  }

  async get(key: string): Promise<Buffer | null> {
    return this.#data.get(key) ?? null
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return keys.map((k) => this.#data.get(k) ?? null)
  }

  async set(key: string, bytes: Buffer, px: number): Promise<void> {
    this.#data.set(key, Buffer.from(bytes), { ttl: Math.max(1, px) })
  }

  async writeLoaded(
    key: string,
    lockKey: string,
    token: string,
    bytes: Buffer,
    px: number,
    createdAt: number,
  ): Promise<WriteResult> {
    const lock = this.#liveLock(lockKey)
    if (lock !== undefined && lock.token === token) {
      this.#locks.delete(lockKey)
    } else {
      const cur = this.#data.get(key)
      if (
        cur !== undefined &&
        cur.length > HEADER_BYTES &&
        cur[0] === MAGIC &&
        cur.readDoubleBE(1) >= createdAt
      ) {
        return 'fenced'
      }
    }
    await this.set(key, bytes, px)
    return 'written'
  }

  async delete(keys: readonly string[]): Promise<number> {
    let n = 0
    for (const k of keys) if (this.#data.delete(k)) n++
    return n
  }

  async markStale(key: string, freshUntil: number): Promise<boolean> {
    const cur = this.#data.get(key)
    if (cur === undefined) return false
    if (cur.length <= HEADER_BYTES || cur[0] !== MAGIC) return false
    const copy = Buffer.from(cur)
    copy.writeDoubleBE(freshUntil, 9)
    this.#data.set(key, copy, { ttl: Math.max(1, this.#data.getRemainingTTL(key)) })
    return true
  }

  async acquireLock(lockKey: string, token: string, ttl: number): Promise<boolean> {
    if (this.#liveLock(lockKey) !== undefined) return false
    this.#locks.set(lockKey, { token, until: Date.now() + ttl })
    return true
  }

  async extendLock(lockKey: string, token: string, ttl: number): Promise<boolean> {
    const lock = this.#liveLock(lockKey)
    if (lock === undefined || lock.token !== token) return false
    lock.until = Date.now() + ttl
    return true
  }

  async releaseLock(lockKey: string, token: string): Promise<void> {
    if (this.#liveLock(lockKey)?.token === token) this.#locks.delete(lockKey)
  }

  async deleteMatching(pattern: string): Promise<number> {
    const re = globToRegExp(pattern)
    let n = 0
    for (const k of [...this.#data.keys()]) {
      if (re.test(k) && this.#data.delete(k)) n++
    }
    return n
  }

  async getTagTimes(keys: readonly string[]): Promise<number[]> {
    return keys.map((k) => this.#tags.get(k) ?? 0)
  }

  async setTagTimes(keys: readonly string[], time: number): Promise<void> {
    for (const k of keys) this.#tags.set(k, Math.max(time, this.#tags.get(k) ?? 0))
  }

  async close(): Promise<void> {
    this.#data.clear()
    this.#locks.clear()
  }

  #liveLock(lockKey: string) {
    const lock = this.#locks.get(lockKey)
    if (lock === undefined) return undefined
    if (lock.until <= Date.now()) {
      this.#locks.delete(lockKey)
      return undefined
    }
    return lock
  }
}

/** Redis SCAN glob semantics (*, ?, [...], \x) as a RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '^'
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i] as string)
    else if (c === '*') re += '[\\s\\S]*'
    else if (c === '?') re += '[\\s\\S]'
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1)
      if (end === -1) re += '\\['
      else {
        let body = glob.slice(i + 1, end)
        if (body.startsWith('^')) body = `^${body.slice(1).replace(/\\/g, '\\\\')}`
        else body = body.replace(/\\/g, '\\\\')
        re += `[${body}]`
        i = end
      }
    } else re += escapeRe(c)
  }
  return new RegExp(`${re}$`)
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
