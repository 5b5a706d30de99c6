/**
 * In-process invalidation epochs: the same fence the lease gives in Redis, for what lives in
 * this process only (coalesced loads, L1 fills). A read or load notes `now()` when it begins;
 * before it joins callers to a shared load or fills L1 it asks `valid(key, since)`, which is
 * false when the key (or everything: clear, pattern, tags, a bus gap) was invalidated since.
 *
 * Memory is bounded: the per-key table keeps the last `max` invalidated keys; a forgotten key
 * raises `#floor`, which makes every older read conservatively invalid (a skipped L1 fill,
 * never a wrong answer).
 */
export class Epochs {
  #seq = 0
  /** Seq of the last invalidation of everything. */
  #all = 0
  /** Highest seq among forgotten keys. */
  #floor = 0
  readonly #keys = new Map<string, number>()
  readonly #max: number

  constructor(max = 10_000) {
    this.#max = max
  }

  now(): number {
    return this.#seq
  }

  /** Entry keys were invalidated (here, or by a bus message from another process). */
  invalidate(keys: readonly string[]): void {
    for (const k of keys) {
      const s = ++this.#seq
      this.#keys.delete(k)
      this.#keys.set(k, s)
    }
    while (this.#keys.size > this.#max) {
      const [k, s] = this.#keys.entries().next().value as [string, number]
      this.#keys.delete(k)
      this.#floor = s
    }
  }

  /** Everything was (or may have been) invalidated: clear, pattern, tags, a bus gap. */
  invalidateAll(): void {
    this.#all = ++this.#seq
    this.#keys.clear()
    this.#floor = this.#all
  }

  /** Nothing invalidated `key` since `since` was taken. */
  valid(key: string, since: number): boolean {
    if (since === this.#seq) return true
    return this.#floor <= since && this.#all <= since && (this.#keys.get(key) ?? 0) <= since
  }

  get size(): number {
    return this.#keys.size
  }
}
