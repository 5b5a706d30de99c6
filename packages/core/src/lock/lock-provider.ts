import type { Store } from '../store/store'

/**
 * How the engine takes the per-entry lock. `sameSlot` locks live beside the entry (one Redis,
 * one slot), so the write script can check the token and release in the same step; other
 * locks (redlock's quorum) are released separately and the write is fenced by createdAt.
 */
export interface LockProvider {
  readonly sameSlot: boolean
  acquire(lockKey: string, token: string, ttl: number): Promise<boolean>
  extend(lockKey: string, token: string, ttl: number): Promise<boolean>
  release(lockKey: string, token: string): Promise<void>
  close?(): Promise<void>
}

/** The default: `SET <prefix>{key}:lock token NX PX ttl` in the entry's own slot. */
export class StoreLock implements LockProvider {
  readonly sameSlot = true
  readonly #store: Store
  constructor(store: Store) {
    this.#store = store
  }
  acquire(lockKey: string, token: string, ttl: number): Promise<boolean> {
    return this.#store.acquireLock(lockKey, token, ttl)
  }
  extend(lockKey: string, token: string, ttl: number): Promise<boolean> {
    return this.#store.extendLock(lockKey, token, ttl)
  }
  release(lockKey: string, token: string): Promise<void> {
    return this.#store.releaseLock(lockKey, token)
  }
}
