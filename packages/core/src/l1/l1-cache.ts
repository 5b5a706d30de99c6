import { LRUCache } from 'lru-cache'
import type { Entry } from '../entry/envelope'

/** What L1 holds: the decoded value and the deadlines that bound it. */
export interface L1Item {
  value: unknown
  /** min(freshUntil, now + l1.ttl): never served past this. */
  until: number
  createdAt: number
  freshUntil: number
  staleUntil: number
  loadMs: number
  tags: readonly string[]
  /** The entry key in Redis (pattern invalidation matches on it). */
  full: string
  /** Stored under the caller's own key (root namespace) rather than the entry key. */
  root: boolean
}

/**
 * The in-process tier (lru-cache: max entries and, optionally, max bytes). An item never
 * outlives its entry's freshUntil; expiry is checked by the caller with one Date.now(), so
 * lru-cache's own TTL clock stays off the hit path.
 *
 * Entries of the root namespace are stored under the caller's key string itself: a hit then
 * builds no `prefix:{key}` string to hash (profiling showed that string dominating the hit).
 * Namespaced entries keep their entry key; the `root` flag tells the two apart should a
 * root key ever equal another namespace's entry key.
 */
export class L1Cache {
  readonly #lru: LRUCache<string, L1Item>
  readonly #ttl: number
  readonly #sized: boolean
  /** `<prefix>:{` — entry keys of the root namespace start with it. */
  readonly #rootOpen: string

  constructor(max: number, maxBytes: number, ttl: number, prefix: string) {
    this.#ttl = ttl
    this.#sized = maxBytes > 0
    this.#rootOpen = `${prefix}:{`
    this.#lru =
      maxBytes > 0
        ? new LRUCache<string, L1Item>({ max, maxSize: maxBytes, sizeCalculation: () => 1 })
        : new LRUCache<string, L1Item>({ max })
  }

  /** Hot path: `key` is the caller's key (root namespace) or the entry key (others). */
  get(key: string, root: boolean): L1Item | undefined {
    const item = this.#lru.get(key)
    return item !== undefined && item.root === root ? item : undefined
  }

  set(full: string, entry: Entry, size: number, now = Date.now()): void {
    const until = this.#ttl > 0 ? Math.min(entry.freshUntil, now + this.#ttl) : entry.freshUntil
    if (until <= now) return
    const root = full.startsWith(this.#rootOpen)
    const item: L1Item = {
      value: entry.value,
      until,
      createdAt: entry.createdAt,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      loadMs: entry.loadMs,
      tags: entry.tags,
      full,
      root,
    }
    this.#lru.set(this.#lruKey(full, root), item, this.#sized ? { size: Math.max(1, size) } : undefined)
  }

  /** Drop entries by their entry keys. */
  delete(fulls: readonly string[]): void {
    for (const full of fulls) {
      const root = full.startsWith(this.#rootOpen)
      const key = this.#lruKey(full, root)
      if (this.#lru.get(key)?.full === full) this.#lru.delete(key)
    }
  }

  deleteMatching(test: (entryKey: string) => boolean): number {
    const doomed: string[] = []
    for (const [key, item] of this.#lru.entries()) if (test(item.full)) doomed.push(key)
    for (const key of doomed) this.#lru.delete(key)
    return doomed.length
  }

  clear(): number {
    const n = this.#lru.size
    this.#lru.clear()
    return n
  }

  get size(): number {
    return this.#lru.size
  }

  #lruKey(full: string, root: boolean): string {
    return root ? full.slice(this.#rootOpen.length, -1) : full
  }
}
