import type { Cluster, Redis } from 'ioredis'
import Redlock, { ExecutionError, type Lock } from 'redlock'
import { InvalidOptionError, StoreUnavailableError } from '../errors'
import { isNodeRedis } from '../store/client'
import type { LockProvider } from './lock-provider'

type LockClient = Redis | Cluster

/** `lock.redlock`: tuning of the quorum lock behind `lock: { strategy: 'redlock', clients }`. */
export interface RedlockLockOptions {
  /**
   * Clock drift allowance, as a fraction of the lock TTL: a lock counts as held only until
   * `start + ttl - ttl * driftFactor - 2ms` (redlock's validity time).
   * @default 0.01
   */
  driftFactor?: number
}

/** ioredis states in which a command cannot reach the server now (it would queue or fail). */
const DOWN = new Set(['close', 'reconnecting', 'end'])

/**
 * `lock: { strategy: 'redlock', clients }`: the per-entry lock as a redlock quorum over several
 * independent Redis primaries (redlock 5.0.0-beta.2). The quorum lock gives exclusion; the
 * fence against invalidations is still the lease beside the entry (lock/lease.ts), which every
 * invalidation revokes in the entry's own slot.
 *
 * One attempt per call, no retries: the engine's waiters poll (or are notified) themselves.
 * The clients are yours: close() releases what this process still holds and never quits them.
 * They must be ioredis 5/6 or iovalkey clients (the redlock library speaks ioredis only): a
 * node-redis client is refused with E_INVALID_OPTION. L2 itself may still be node-redis.
 */
export class RedlockLock implements LockProvider {
  readonly #clients: readonly LockClient[]
  readonly #redlock: Redlock
  readonly #quorum: number
  /** The redlock Lock behind each (lock key, engine token) this process holds. */
  readonly #held = new Map<string, Lock>()
  #closed = false

  constructor(clients: readonly unknown[], options: RedlockLockOptions = {}) {
    // The redlock library speaks ioredis only (its scripts go through ioredis's evalsha and
    // `status`): say so instead of failing on the first lock.
    if (Array.isArray(clients) && clients.some(isNodeRedis)) {
      throw new InvalidOptionError(
        'lock.clients',
        "ioredis (or iovalkey) clients: lock strategy 'redlock' does not support node-redis. Keep node-redis for `redis` and hand redlock ioredis clients for the lock servers, or use the default strategy 'redis'",
        'a node-redis client',
      )
    }
    if (!Array.isArray(clients) || clients.length === 0 || !clients.every(isClient)) {
      throw new InvalidOptionError(
        'lock.clients',
        'a non-empty array of ioredis Redis or Cluster clients, one per independent primary',
        clients,
      )
    }
    // Validated with every other option (options.ts resolveRedlock): this class is internal now.
    const driftFactor = options.driftFactor ?? 0.01
    this.#clients = [...(clients as LockClient[])]
    this.#quorum = Math.floor(clients.length / 2) + 1
    this.#redlock = new Redlock(this.#clients, {
      driftFactor,
      retryCount: 0,
      retryDelay: 0,
      retryJitter: 0,
      automaticExtensionThreshold: 0,
    })
  }

  /** How many votes a lock needs: a majority of the clients. */
  get quorum(): number {
    return this.#quorum
  }

  async acquire(lockKey: string, token: string, ttl: number): Promise<boolean> {
    this.#reachable('acquire', lockKey)
    this.#sweep()
    let lock: Lock
    try {
      lock = await this.#redlock.acquire([lockKey], ms(ttl))
    } catch (err) {
      // No quorum: someone else holds it on a majority (or enough servers refused). redlock has
      // already released whatever minority it did get.
      if (err instanceof ExecutionError) return false
      throw this.#unavailable('acquire', lockKey, err)
    }
    // The quorum came back after the lock's validity time (slow servers, a long GC pause):
    // it may already have expired somewhere. Not held.
    if (this.#closed || lock.expiration <= Date.now()) {
      lock.release().catch(() => {})
      return false
    }
    this.#held.set(id(lockKey, token), lock)
    return true
  }

  async extend(lockKey: string, token: string, ttl: number): Promise<boolean> {
    const key = id(lockKey, token)
    const lock = this.#held.get(key)
    if (lock === undefined) return false
    this.#reachable('extend', lockKey)
    try {
      const next = await lock.extend(ms(ttl))
      // Released while the extension was in flight: give the fresh extension back too.
      if (this.#held.get(key) !== lock) {
        next.release().catch(() => {})
        return false
      }
      this.#held.set(key, next)
      return true
    } catch (err) {
      // Expired already, or a majority now holds someone else's value: the lock is lost.
      if (err instanceof ExecutionError) {
        if (this.#held.get(key) === lock) this.#held.delete(key)
        return false
      }
      throw this.#unavailable('extend', lockKey, err)
    }
  }

  async release(lockKey: string, token: string): Promise<void> {
    const key = id(lockKey, token)
    const lock = this.#held.get(key)
    if (lock === undefined) return
    this.#held.delete(key)
    try {
      await lock.release()
    } catch (err) {
      // Not released on a majority (already expired, or servers down): it expires by itself.
      if (!(err instanceof ExecutionError)) throw this.#unavailable('release', lockKey, err)
    }
  }

  /** Release every lock this process still holds. The clients stay open: they are yours. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const held = [...this.#held.values()]
    this.#held.clear()
    await Promise.allSettled(held.map((lock) => lock.release()))
  }

  /**
   * Fewer than a quorum of servers reachable: no lock can be had, and redlock would wait on the
   * offline queue. Say so as a Redis failure, so the engine fails open (or throws) at once.
   */
  #reachable(operation: string, lockKey: string): void {
    let up = 0
    for (const c of this.#clients) if (!DOWN.has(c.status)) up++
    if (up < this.#quorum) {
      throw new StoreUnavailableError(
        `redlock ${operation}: ${up} of ${this.#clients.length} lock servers are connected; a lock needs ${this.#quorum}.`,
        { key: lockKey },
      )
    }
  }

  #unavailable(operation: string, lockKey: string, cause: unknown): StoreUnavailableError {
    const message = cause instanceof Error ? cause.message : String(cause)
    return new StoreUnavailableError(`redlock ${operation} failed: ${message}`, { key: lockKey, cause })
  }

  /** Locks whose holder never released them (a failed write) are dropped once they have expired. */
  #sweep(): void {
    if (this.#held.size < 64) return
    const now = Date.now()
    for (const [key, lock] of this.#held) if (lock.expiration <= now) this.#held.delete(key)
  }
}

function id(lockKey: string, token: string): string {
  return `${token} ${lockKey}`
}

function ms(ttl: number): number {
  return Math.max(1, Math.round(ttl))
}

function isClient(c: unknown): c is LockClient {
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof (c as { sendCommand?: unknown }).sendCommand === 'function' &&
    typeof (c as { status?: unknown }).status === 'string'
  )
}
