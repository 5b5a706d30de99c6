import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Engine } from '../engine'
import type { Entry } from '../entry/envelope'
import type { CacheError } from '../errors'
import { StoreUnavailableError } from '../errors'
import { Keyspace } from '../keys'
import type { L1Cache, L1Item } from '../l1/l1-cache'
import { globToRegExp } from '../store/memory-store'
import type { RedisClient } from '../store/scripts'
import type { BusUnhealthyReason } from '../types'
import type { BusMessage } from './codec'
import { RedisBus } from './redis-bus'

/**
 * Keeps L1 and in-process tag times coherent with every other process. With a bus, L1 is
 * trusted only while the subscriber is connected: a drop clears L1 (and tag times) at once
 * and again when it is back, so a missed message can never leave a stale L1 entry behind.
 */
export class Coherence {
  readonly l1: L1Cache | undefined
  readonly bus: RedisBus | undefined
  readonly sender = randomBytes(9).toString('base64url')
  /** L1 may be read and filled (no bus needed, or the bus is connected). */
  l1Usable: boolean
  /** In-process tag times are authoritative (single process, or kept fresh by a connected bus). */
  #tagsTrusted: boolean
  /** Bounded (LRU): an evicted tag time is simply read from Redis again. */
  readonly #tagTimes: LRUCache<string, number>
  readonly #engine: Engine

  constructor(engine: Engine, l1: L1Cache | undefined, publisher: RedisClient | undefined) {
    this.#engine = engine
    this.l1 = l1
    const o = engine.options
    const single = engine.store.kind === 'memory'
    this.#tagTimes = new LRUCache<string, number>({ max: o.bus === false ? 10_000 : o.bus.maxTagTimes })
    if (publisher !== undefined && o.bus !== false) {
      this.bus = new RedisBus(
        publisher,
        {
          prefix: o.prefix,
          sender: this.sender,
          signingKeys: o.bus.signingKeys,
          maxAge: o.bus.maxAge,
          sharded: o.bus.sharded,
          channels: o.bus.channels,
          healthWindow: o.bus.healthWindow,
        },
        {
          message: (m) => this.#receive(m),
          rejected: (reason) => engine.emit('bus:rejected', { reason }),
          down: (reason, channel) => this.#distrust(reason, channel),
          up: (first) => this.#trust(first),
          published: (type, count) => engine.emit('bus:published', { type, count }),
          error: (err, operation) =>
            engine.reportError(
              new StoreUnavailableError(
                `Invalidation bus${operation === 'bus' ? '' : ` ${operation}`} failed: ${String(err)}`,
                {
                  cause: err,
                },
              ),
              operation,
            ),
        },
      )
      this.l1Usable = false
      this.#tagsTrusted = false
    } else {
      this.l1Usable = true
      this.#tagsTrusted = single
    }
  }

  /** `userKey`, when the caller has it, becomes L1's key as is (no string cut from `k`). */
  onFill(k: string, entry: Entry, userKey?: string): void {
    if (this.l1 === undefined || !this.l1Usable) return
    this.l1.set(k, entry, entry.size ?? 0, Date.now(), userKey)
    // L1 hits on tagged entries need the tag times in-process: fetch unknown ones once now.
    if (entry.tags.length > 0 && this.#tagsTrusted && this.tagStaleSync(entry, k) === undefined) {
      void this.tagInvalidated(entry, k)
    }
  }

  /** This process wrote an entry: others drop their L1 copy; ours is refilled unless fenced (`fill`). */
  onWrite(k: string, entry: Entry, fill: boolean, userKey?: string): void {
    if (fill) this.onFill(k, entry, userKey)
    else this.l1?.delete([k])
    this.bus?.publish('set', [k])
  }

  onInvalidate(type: 'delete' | 'expire', keys: readonly string[]): void {
    this.l1?.delete(keys)
    this.bus?.publish(type === 'delete' ? 'del' : 'exp', keys)
  }

  /** Sync answer when tag times are known locally; undefined means "ask Redis". */
  tagStaleSync(item: L1Item | Entry, entryKey: string): boolean | undefined {
    if (!this.#tagsTrusted) return undefined
    for (const t of item.tags) {
      const time = this.#tagTimes.get(Keyspace.tagOf(entryKey, t))
      if (time === undefined) return undefined
      if (time >= item.createdAt) return true
    }
    return false
  }

  /**
   * Whether a tag invalidation is newer than the entry's load. When Redis cannot say: with
   * failOpen the entry counts as valid (an 'error' event tells), without it the call throws.
   */
  async tagInvalidated(entry: Entry, entryKey: string, failOpen = true, local = true): Promise<boolean> {
    // `local: false` (an entry read from L2): ask Redis, as the in-process times move only when a
    // bus message lands, and an L2 read must see another process's completed invalidation at once.
    const known = local ? this.tagStaleSync(entry, entryKey) : undefined
    if (known !== undefined) return known
    const tagKeys = entry.tags.map((t) => Keyspace.tagOf(entryKey, t))
    let times: number[]
    try {
      times = await this.#engine.readTagTimes(tagKeys)
    } catch (err) {
      this.#engine.storeFailed(err as CacheError, failOpen, 'tags')
      return false
    }
    let stale = false
    times.forEach((time, i) => {
      const tk = tagKeys[i] as string
      if (this.#tagsTrusted) this.#tagTimes.set(tk, Math.max(time, this.#tagTimes.get(tk) ?? 0))
      if (time >= entry.createdAt) {
        stale = true
        if (time > (entry.invalidatedAt ?? 0)) entry.invalidatedAt = time
      }
    })
    return stale
  }

  /** After this process invalidated tags (already written to the store). */
  tagsInvalidated(tagKeys: readonly string[], time: number): void {
    for (const tk of tagKeys) this.#tagTimes.set(tk, Math.max(time, this.#tagTimes.get(tk) ?? 0))
    this.bus?.publish('tags', tagKeys)
  }

  /** After this process deleted keys by pattern (or cleared a namespace): drop them from L1 everywhere. */
  patternInvalidated(type: 'clear' | 'pattern', fullPattern: string): void {
    const re = globToRegExp(fullPattern)
    this.l1?.deleteMatching((k) => re.test(k))
    this.bus?.publish(type, [fullPattern])
  }

  async close(): Promise<void> {
    this.l1?.clear()
    await this.bus?.close()
  }

  #receive(m: BusMessage): void {
    const engine = this.#engine
    engine.emit('bus:received', { type: m.type, count: m.keys.length })
    switch (m.type) {
      case 'set':
      case 'del':
      case 'exp':
        engine.epochs.invalidate(m.keys)
        this.l1?.delete(m.keys)
        if (m.type === 'set') for (const k of m.keys) engine.notifier.notify(k)
        break
      case 'tags':
        engine.epochs.invalidateAll()
        for (const tk of m.keys) this.#tagTimes.set(tk, Math.max(m.time, this.#tagTimes.get(tk) ?? 0))
        break
      case 'clear':
      case 'pattern':
        engine.epochs.invalidateAll()
        for (const p of m.keys) {
          const re = globToRegExp(p)
          this.l1?.deleteMatching((k) => re.test(k))
        }
        break
    }
  }

  #distrust(reason: BusUnhealthyReason, channel: string | undefined): void {
    this.#engine.epochs.invalidateAll()
    this.l1Usable = false
    this.#tagsTrusted = false
    this.l1?.clear()
    this.#tagTimes.clear()
    this.#engine.emit('bus:unhealthy', { reason, channel })
  }

  #trust(first: boolean): void {
    // After a gap, loads and reads that began before it may hold what a lost message
    // invalidated. The first subscription follows no gap: nothing to fence (and fencing would
    // stop the loads already in flight at startup from being joined).
    if (!first) this.#engine.epochs.invalidateAll()
    const cleared = this.l1?.clear() ?? 0
    this.#tagTimes.clear()
    this.l1Usable = true
    this.#tagsTrusted = true
    this.#engine.emit('bus:ready', { reconnect: !first })
    if (!first) {
      this.#engine.emit('bus:reconnected', { cleared })
      // Write notifications may have been missed while down: let lock waiters re-check now.
      this.#engine.notifier.wakeAll()
    }
  }
}
