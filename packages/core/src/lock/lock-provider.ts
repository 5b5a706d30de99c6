/**
 * A quorum lock that gives exclusion outside the entry's own slot (redlock over independent
 * primaries). The default strategy needs none: the lease key beside the entry is the lock
 * (see lease.ts).
 */
export interface LockProvider {
  acquire(lockKey: string, token: string, ttl: number): Promise<boolean>
  extend(lockKey: string, token: string, ttl: number): Promise<boolean>
  release(lockKey: string, token: string): Promise<void>
  close?(): Promise<void>
}
