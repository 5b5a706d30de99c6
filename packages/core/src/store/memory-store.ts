import { LRUCache } from 'lru-cache'
import { isEnvelope } from '../entry/envelope'
import type { LeaseResult, Store, WriteResult } from './store'

/** The embedded default: one process, no Redis. Same semantics as RedisStore, including locks. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const
  readonly partitioned = false
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

  async lockOrRead(
    key: string,
    leaseKey: string,
    token: string,
    ttl: number,
    seenCreatedAt: number,
    now: number,
    exclusive: boolean,
  ): Promise<LeaseResult> {
    const cur = this.#data.get(key)
    if (
      cur !== undefined &&
      isEnvelope(cur) &&
      cur.readUIntBE(1, 6) > seenCreatedAt &&
      cur.readUIntBE(7, 6) > now
    ) {
      return Buffer.from(cur)
    }
    const held = this.#liveLock(leaseKey)
    if (held !== undefined && (exclusive || held.token === 'backoff')) return false
    this.#locks.set(leaseKey, { token, until: Date.now() + ttl })
    return true
  }

  async writeLoaded(
    key: string,
    leaseKey: string,
    token: string,
    bytes: Buffer,
    px: number,
  ): Promise<WriteResult> {
    if (this.#liveLock(leaseKey)?.token !== token) return 'fenced'
    this.#locks.delete(leaseKey)
    this.#put(key, bytes, px)
    return 'written'
  }

  async failLoaded(
    key: string,
    leaseKey: string,
    token: string,
    readCreatedAt: number,
    backoffUntil: number,
  ): Promise<void> {
    if (this.#liveLock(leaseKey)?.token !== token) return
    this.#locks.delete(leaseKey)
    const cur = this.#data.get(key)
    if (
      readCreatedAt > 0 &&
      backoffUntil > Date.now() &&
      cur !== undefined &&
      isEnvelope(cur) &&
      cur.readUIntBE(1, 6) === Math.round(readCreatedAt)
    ) {
      this.#locks.set(leaseKey, { token: 'backoff', until: backoffUntil })
    }
  }

  async write(key: string, leaseKey: string, bytes: Buffer, px: number): Promise<void> {
    this.#put(key, bytes, px)
    this.#locks.delete(leaseKey)
  }

  async invalidate(
    keys: readonly string[],
    leaseKeys: readonly string[],
    mode: 'delete' | 'expire',
  ): Promise<number> {
    let n = 0
    keys.forEach((k, i) => {
      this.#locks.delete(leaseKeys[i] as string)
      if (mode === 'delete') {
        if (this.#data.delete(k)) n++
        return
      }
      const cur = this.#data.get(k)
      if (cur === undefined || !isEnvelope(cur)) return
      this.#rewriteFreshUntil(k, cur, 0)
      n++
    })
    return n
  }

  async extendLock(leaseKey: string, token: string, ttl: number): Promise<boolean> {
    const lock = this.#liveLock(leaseKey)
    if (lock === undefined || lock.token !== token) return false
    lock.until = Date.now() + ttl
    return true
  }

  async releaseLock(leaseKey: string, token: string): Promise<void> {
    if (this.#liveLock(leaseKey)?.token === token) this.#locks.delete(leaseKey)
  }

  async deleteMatching(
    pattern: string,
    _batch: number,
    accept: (key: string) => boolean,
    count: (key: string) => boolean,
  ): Promise<number> {
    const re = globToRegExp(pattern)
    let n = 0
    for (const k of [...this.#data.keys()]) {
      if (re.test(k) && accept(k) && this.#data.delete(k) && count(k)) n++
    }
    for (const k of [...this.#locks.keys()]) if (re.test(k) && accept(k)) this.#locks.delete(k)
    for (const k of [...this.#tags.keys()]) if (re.test(k) && accept(k)) this.#tags.delete(k)
    return n
  }

  async getTagTimes(keys: readonly string[]): Promise<number[]> {
    return keys.map((k) => this.#tags.get(k) ?? 0)
  }

  async setTagTimes(keys: readonly string[], time: number): Promise<void> {
    for (const k of keys) this.#tags.set(k, Math.max(time, this.#tags.get(k) ?? 0))
  }

  #put(key: string, bytes: Buffer, px: number): void {
    this.#data.set(key, Buffer.from(bytes), { ttl: Math.max(1, px) })
  }

  /** In place: the remaining TTL survives, as SETRANGE keeps it in Redis. */
  #rewriteFreshUntil(key: string, cur: Buffer, freshUntil: number): void {
    const copy = Buffer.from(cur)
    copy.writeUIntBE(Math.max(0, Math.round(freshUntil)), 7, 6)
    this.#data.set(key, copy, { ttl: Math.max(1, this.#data.getRemainingTTL(key)) })
  }

  async close(_deadline?: number): Promise<void> {
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
