import { LRUCache } from 'lru-cache'
import type { Entry } from '../entry/envelope'

let cachedNow = 0
let cachedUses = 0
const forget = () => {
  cachedNow = 0
}

/**
 * The clock for L1 hits. Date.now() cost 40-70 ns, about as much as the whole rest of an L1
 * hit, so one reading is shared by the hits of one synchronous run: it is dropped at the next
 * microtask checkpoint (queueMicrotask) and after 64 uses, so an item may be served past
 * `until` by at most the length of the run that read the clock (and never across a timer,
 * I/O or any await that yields to the event loop).
 */
export function l1Now(): number {
  if (cachedNow !== 0 && ++cachedUses < 64) return cachedNow
  cachedNow = Date.now()
  cachedUses = 0
  queueMicrotask(forget)
  return cachedNow
}

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
  /** The namespace's key base (`<prefix>:` or `<prefix>:<ns>:`), the part of `full` before `{`. */
  base: string
  /** Encoded bytes (maxBytes accounting). */
  size: number
  /** The item of another namespace stored under the same caller key, if any. */
  next: L1Item | undefined
}

/**
 * The in-process tier (lru-cache: max entries and, optionally, max bytes). An item never
 * outlives its entry's freshUntil; expiry is checked by the caller with one Date.now(), so
 * lru-cache's own TTL clock stays off the hit path.
 *
 * Items are stored under the caller's own key string, for every namespace: a hit then builds no
 * `prefix:{key}` string to hash (profiling showed that string dominating the hit: a fresh string
 * has no cached hash, so Map.get must flatten and hash it, 8x slower than a key the caller
 * already holds). The namespace is told apart by `base`; the same key in several namespaces
 * shares one LRU slot as a short chain (`next`), whose size is the sum of its items.
 */
export class L1Cache {
  readonly #lru: LRUCache<string, L1Item>
  readonly #ttl: number
  readonly #sized: boolean
  /** Some slot has held items of more than one namespace (size must walk the chains). */
  #chained = false
  /** One string object per namespace base, so the hit compares bases by identity. */
  readonly #bases = new Map<string, string>()

  constructor(max: number, maxBytes: number, ttl: number) {
    this.#ttl = ttl
    this.#sized = maxBytes > 0
    // No dispose hook: lru-cache's get is measurably slower with one (about 8 ns of a 40 ns get),
    // and the item count it kept is computed when asked (size) instead.
    this.#lru =
      maxBytes > 0
        ? new LRUCache<string, L1Item>({ max, maxSize: maxBytes, sizeCalculation: () => 1 })
        : new LRUCache<string, L1Item>({ max })
  }

  /** The canonical string for a namespace base: pass it to get() (compared by identity there). */
  intern(base: string): string {
    let b = this.#bases.get(base)
    if (b === undefined) {
      b = base
      this.#bases.set(base, b)
    }
    return b
  }

  /** Hot path: the caller's key and its namespace's base (from intern()). */
  get(key: string, base: string): L1Item | undefined {
    let item = this.#lru.get(key)
    while (item !== undefined && item.base !== base) item = item.next
    return item
  }

  /**
   * `userKey` (the caller's key, which is the part of `full` inside the braces) becomes the LRU
   * key as is: a hit with the very string the caller filled with compares by identity.
   */
  set(full: string, entry: Entry, size: number, now = Date.now(), userKey?: string): void {
    const until = this.#ttl > 0 ? Math.min(entry.freshUntil, now + this.#ttl) : entry.freshUntil
    if (until <= now) return
    const open = full.indexOf('{')
    const key = userKey ?? full.slice(open + 1, -1)
    const base = this.intern(full.slice(0, open))
    const rest = without(this.#lru.peek(key), base)
    const item: L1Item = {
      value: entry.value,
      until,
      createdAt: entry.createdAt,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      loadMs: entry.loadMs,
      tags: entry.tags,
      full,
      base,
      size: Math.max(1, size),
      next: rest.head,
    }
    if (rest.length > 0) this.#chained = true
    this.#put(key, item)
  }

  /** Drop entries by their entry keys. */
  delete(fulls: readonly string[]): void {
    for (const full of fulls) {
      const { key, base } = split(full)
      const rest = without(this.#lru.peek(key), base)
      if (!rest.removed) continue
      if (rest.head === undefined) this.#lru.delete(key)
      else this.#put(key, rest.head)
    }
  }

  deleteMatching(test: (entryKey: string) => boolean): number {
    const changed: Array<[string, L1Item | undefined]> = []
    let n = 0
    for (const [key, head] of this.#lru.entries()) {
      let kept: L1Item | undefined
      let dropped = false
      for (let it: L1Item | undefined = head; it !== undefined; it = it.next) {
        if (test(it.full)) {
          n++
          dropped = true
        }
      }
      if (!dropped) continue
      // Rebuild the chain from the survivors (rare: the same key in several namespaces).
      for (let it: L1Item | undefined = head; it !== undefined; it = it.next) {
        if (!test(it.full)) kept = { ...it, next: kept }
      }
      changed.push([key, kept])
    }
    for (const [key, kept] of changed) {
      if (kept === undefined) this.#lru.delete(key)
      else this.#put(key, kept)
    }
    return n
  }

  clear(): number {
    const n = this.size
    this.#lru.clear()
    return n
  }

  /** Items held, every namespace counted (walks the slots once namespaces share a key). */
  get size(): number {
    if (!this.#chained) return this.#lru.size
    let n = 0
    for (const head of this.#lru.values()) n += chainLength(head)
    return n
  }

  #put(key: string, head: L1Item): void {
    if (!this.#sized) {
      this.#lru.set(key, head)
      return
    }
    let total = 0
    for (let it: L1Item | undefined = head; it !== undefined; it = it.next) total += it.size
    this.#lru.set(key, head, { size: total })
  }
}

/** `<base>{<key>}` → key and base (prefixes and namespace names never contain `{`). */
function split(full: string): { key: string; base: string } {
  const open = full.indexOf('{')
  return { key: full.slice(open + 1, -1), base: full.slice(0, open) }
}

/** The chain without `base`'s item (copied only when that item is not the head). */
function without(
  head: L1Item | undefined,
  base: string,
): { head: L1Item | undefined; length: number; removed: boolean } {
  if (head === undefined) return { head: undefined, length: 0, removed: false }
  if (head.next === undefined) {
    return head.base === base
      ? { head: undefined, length: 0, removed: true }
      : { head, length: 1, removed: false }
  }
  let removed = false
  let length = 0
  let out: L1Item | undefined
  for (let it: L1Item | undefined = head; it !== undefined; it = it.next) {
    if (it.base === base) removed = true
    else {
      out = { ...it, next: out }
      length++
    }
  }
  return { head: out, length, removed }
}

function chainLength(head: L1Item): number {
  let n = 0
  for (let it: L1Item | undefined = head; it !== undefined; it = it.next) n++
  return n
}
