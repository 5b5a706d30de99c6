import { randomBytes } from 'node:crypto'
import type { CacheError } from '../errors'
import type { Guard } from '../store/guard'
import type { LeaseResult, Store } from '../store/store'
import type { LockProvider } from './lock-provider'

/** What a lease reports back to the engine that took it. */
export interface LeaseHost {
  readonly store: Store
  readonly guard: Guard
  /** A quorum lock (redlock) giving exclusion; absent: the lease key itself is the lock. */
  readonly quorum: LockProvider | undefined
  readonly leases: Set<Lease>
  /** Extends the leases of running loads (one timer per process). */
  readonly keeper: LeaseKeeper
  reportError(error: CacheError, operation: string, key?: string): void
  lost(userKey: string): void
  /** The lease was given back without a write: wake this process's waiters for the key now. */
  released(key: string): void
}

/**
 * The right to store one load's result: a token in the entry's lease key (same slot as the
 * entry). It owns its key, token, extension timer and release, so the lock sequence exists
 * once. Every invalidation of the entry deletes the lease in Redis, which is what fences a
 * load that began before it (docs/consistency.md).
 *
 * With `lock: { strategy: 'redlock' }` exclusion comes from the quorum lock (`<entry>:lock` on
 * the lock servers) and the lease (`<entry>:lease`, taken unconditionally) only fences.
 */
/**
 * Tokens only have to be unique: a random per-process prefix (72 bits) and a counter. A
 * randomUUID() or randomBytes() per lease showed in the miss profile.
 */
const TOKEN_PREFIX = randomBytes(9).toString('base64url')
let tokenSeq = 0

export class Lease {
  readonly token = TOKEN_PREFIX + (++tokenSeq).toString(36)
  readonly key: string
  readonly leaseKey: string
  readonly userKey: string
  /** When the keeper extends it next (ms), and by how much. */
  renewAt = 0
  ttl = 0
  #quorumHeld = false
  #done = false
  readonly #host: LeaseHost

  constructor(host: LeaseHost, key: string, userKey: string) {
    this.#host = host
    this.key = key
    this.userKey = userKey
    this.leaseKey = host.quorum === undefined ? `${key}:lock` : `${key}:lease`
  }

  /**
   * One step: a fresh entry newer than `seenCreatedAt` (no lease taken), or whether the lease
   * is now ours. Redis failures reject with the guard's coded error.
   */
  take(ttl: number, seenCreatedAt: number): Promise<LeaseResult> {
    if (this.#host.quorum !== undefined) return this.#takeQuorum(ttl, seenCreatedAt)
    // The lease is the lock: one script, no async frame of our own (this is on every miss).
    const { guard, store } = this.#host
    return guard
      .call(
        'EVALSHA',
        this.userKey,
        () => store.lockOrRead(this.key, this.leaseKey, this.token, ttl, seenCreatedAt, Date.now(), true),
        this.key,
      )
      .then((r) => {
        if (r === true) this.#host.leases.add(this)
        return r
      })
  }

  async #takeQuorum(ttl: number, seenCreatedAt: number): Promise<LeaseResult> {
    const { guard, store, quorum } = this.#host
    if (quorum === undefined) return false
    const lockKey = `${this.key}:lock`
    const ok = await guard.call('LOCK', this.userKey, () => quorum.acquire(lockKey, this.token, ttl), lockKey)
    if (!ok) return false
    this.#quorumHeld = true
    let r: LeaseResult
    try {
      r = await guard.call(
        'EVALSHA',
        this.userKey,
        () => store.lockOrRead(this.key, this.leaseKey, this.token, ttl, seenCreatedAt, Date.now(), false),
        this.key,
      )
    } catch (err) {
      this.#releaseQuorum()
      throw err
    }
    if (r === true) this.#host.leases.add(this)
    else this.#releaseQuorum()
    return r
  }

  /** Extend the lease (and quorum lock) every ttl/3 while the loader runs. */
  keepAlive(ttl: number): void {
    this.ttl = ttl
    this.renewAt = Date.now() + Math.max(5, Math.floor(ttl / 3))
    this.#host.keeper.add(this)
  }

  stop(): void {
    this.#host.keeper.delete(this)
  }

  /** One extension (the keeper calls it when renewAt is due). */
  extend(): void {
    const { guard, store, quorum, keeper } = this.#host
    this.renewAt = Date.now() + Math.max(5, Math.floor(this.ttl / 3))
    const ttl = this.ttl
    guard
      .call('EVALSHA', this.userKey, () => store.extendLock(this.leaseKey, this.token, ttl), this.key)
      .then(async (ok) => {
        const q = ok && quorum !== undefined ? await quorum.extend(`${this.key}:lock`, this.token, ttl) : ok
        if (!q && keeper.has(this)) {
          this.stop()
          this.#host.lost(this.userKey)
        }
      })
      .catch((err) => this.#host.reportError(err as CacheError, 'lock:extend', this.userKey))
  }

  /** The write (or failure) script consumed the lease in Redis: forget it here. */
  consumed(): void {
    this.stop()
    this.#done = true
    this.#host.leases.delete(this)
    this.#releaseQuorum()
  }

  /** Give the lease back (a waiter can take over at once). Never throws; idempotent. */
  release(): Promise<void> {
    if (this.#done) return Promise.resolve()
    this.consumed()
    const { guard, store } = this.#host
    return guard
      .call('EVALSHA', this.userKey, () => store.releaseLock(this.leaseKey, this.token), this.key)
      .then(
        () => this.#host.released(this.key),
        (err) => this.#host.reportError(err as CacheError, 'unlock', this.userKey),
      )
  }

  #releaseQuorum(): void {
    const quorum = this.#host.quorum
    if (!this.#quorumHeld || quorum === undefined) return
    this.#quorumHeld = false
    const lockKey = `${this.key}:lock`
    this.#host.guard
      .call('UNLOCK', this.userKey, () => quorum.release(lockKey, this.token), lockKey)
      .catch((err) => this.#host.reportError(err as CacheError, 'unlock', this.userKey))
  }
}

/**
 * Keeps the leases of running loads alive from one timer (a setInterval per lease showed in the
 * miss profile). Most loads end long before ttl/3, so the timer rarely does anything: it is
 * armed for the earliest renewal due and re-armed after each sweep.
 */
export class LeaseKeeper {
  readonly #alive = new Set<Lease>()
  #timer: NodeJS.Timeout | undefined
  #at = Number.POSITIVE_INFINITY

  add(lease: Lease): void {
    this.#alive.add(lease)
    if (lease.renewAt < this.#at) this.#arm(lease.renewAt)
  }

  delete(lease: Lease): void {
    this.#alive.delete(lease)
  }

  has(lease: Lease): boolean {
    return this.#alive.has(lease)
  }

  #arm(at: number): void {
    clearTimeout(this.#timer)
    this.#at = at
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, at - Date.now()))
    this.#timer.unref()
  }

  #sweep(): void {
    this.#timer = undefined
    this.#at = Number.POSITIVE_INFINITY
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const lease of this.#alive) {
      if (lease.renewAt <= now) lease.extend()
      if (lease.renewAt < next) next = lease.renewAt
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next)
  }
}
