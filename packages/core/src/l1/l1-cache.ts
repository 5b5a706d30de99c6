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
}

/**
 * The in-process tier (lru-cache: max entries and, optionally, max bytes). An item never
 * outlives its entry's freshUntil; expiry is checked by the caller with one Date.now(), so
 * lru-cache's own TTL clock stays off the hit path.
 */
export class L1Cache {
  readonly #lru: LRUCache<string, L1Item>
  readonly #ttl: number
  readonly #sized: boolean

  constructor(max: number, maxBytes: number, ttl: number) {
    this.#ttl = ttl
    this.#sized = maxBytes > 0
    this.#lru =
      maxBytes > 0
        ? new LRUCache<string, L1Item>({ max, maxSize: maxBytes, sizeCalculation: () => 1 })
        : new LRUCache<string, L1Item>({ max })
  }

  get(key: string): L1Item | undefined {
    return this.#lru.get(key)
  }

  set(key: string, entry: Entry, size: number, now = Date.now()): void {
    const until = this.#ttl > 0 ? Math.min(entry.freshUntil, now + this.#ttl) : entry.freshUntil
    if (until <= now) return
    const item: L1Item = {
      value: entry.value,
      until,
      createdAt: entry.createdAt,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      loadMs: entry.loadMs,
      tags: entry.tags,
    }
    this.#lru.set(key, item, this.#sized ? { size: Math.max(1, size) } : undefined)
  }

  delete(keys: readonly string[]): void {
    for (const k of keys) this.#lru.delete(k)
  }

  deleteMatching(test: (key: string) => boolean): number {
    let n = 0
    for (const k of [...this.#lru.keys()]) {
      if (test(k)) {
        this.#lru.delete(k)
        n++
      }
    }
    return n
  }

  clear(): number {
    const n = this.#lru.size
    this.#lru.clear()
    return n
  }

  get size(): number {
    return this.#lru.size
  }
}
