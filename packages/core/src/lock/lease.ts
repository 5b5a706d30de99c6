import { randomUUID } from 'node:crypto'
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
  reportError(error: CacheError, operation: string, key?: string): void
  lost(userKey: string): void
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
export class Lease {
  readonly token = randomUUID()
  readonly key: string
  readonly leaseKey: string
  readonly userKey: string
  #timer: NodeJS.Timeout | undefined
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
  async take(ttl: number, seenCreatedAt: number): Promise<LeaseResult> {
    const { guard, store, quorum } = this.#host
    if (quorum !== undefined) {
      const lockKey = `${this.key}:lock`
      const ok = await guard.call(
        'LOCK',
        this.userKey,
        () => quorum.acquire(lockKey, this.token, ttl),
        lockKey,
      )
      if (!ok) return false
      this.#quorumHeld = true
    }
    let r: LeaseResult
    try {
      r = await guard.call(
        'EVALSHA',
        this.userKey,
        () =>
          store.lockOrRead(
            this.key,
            this.leaseKey,
            this.token,
            ttl,
            seenCreatedAt,
            Date.now(),
            quorum === undefined,
          ),
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
    const { guard, store, quorum } = this.#host
    const t = setInterval(
      () => {
        const lockKey = `${this.key}:lock`
        guard
          .call('EVALSHA', this.userKey, () => store.extendLock(this.leaseKey, this.token, ttl), this.key)
          .then(async (ok) => {
            const q = ok && quorum !== undefined ? await quorum.extend(lockKey, this.token, ttl) : ok
            if (!q && this.#timer === t) {
              this.stop()
              this.#host.lost(this.userKey)
            }
          })
          .catch((err) => this.#host.reportError(err as CacheError, 'lock:extend', this.userKey))
      },
      Math.max(5, Math.floor(ttl / 3)),
    )
    t.unref()
    this.#timer = t
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
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
      .catch((err) => this.#host.reportError(err as CacheError, 'unlock', this.userKey))
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
