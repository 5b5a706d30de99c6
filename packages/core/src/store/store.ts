/**
 * What the engine asks of an L2 store. Stores move bytes; envelopes, freshness and events live
 * in the engine. Keys arrive fully built (see keys.ts). Every operation that changes an entry
 * also revokes its lease (the lease protocol: docs/consistency.md), so both stores fence loads
 * the same way.
 */
export type WriteResult = 'written' | 'fenced'

/** lockOrRead's answer: a newer fresh entry (no lease taken), or whether the lease was taken. */
export type LeaseResult = Buffer | boolean

export interface Store {
  readonly kind: 'memory' | 'redis'
  /** Multi-key work must be split per key (a cluster: each key reaches its own node and circuit). */
  readonly partitioned: boolean
  get(key: string): Promise<Buffer | null>
  getMany(keys: readonly string[]): Promise<Array<Buffer | null>>
  /**
   * One step: the entry's bytes when it is fresh at `now` and newer than `seenCreatedAt`; else
   * take the lease (`exclusive`: only if free) and say whether it is ours.
   */
  lockOrRead(
    key: string,
    leaseKey: string,
    token: string,
    ttl: number,
    seenCreatedAt: number,
    now: number,
    exclusive: boolean,
  ): Promise<LeaseResult>
  /** Store a loader's result and drop the lease, only while the lease still holds `token`. */
  writeLoaded(key: string, leaseKey: string, token: string, bytes: Buffer, px: number): Promise<WriteResult>
  /**
   * A failed load, while the lease is still ours: if the entry is still the one the load read
   * (`readCreatedAt`, 0 for none) and `backoffUntil` is ahead, keep the lease taken until then as a
   * stale-if-error backoff ('backoff', which no token equals); otherwise drop it.
   */
  failLoaded(
    key: string,
    leaseKey: string,
    token: string,
    readCreatedAt: number,
    backoffUntil: number,
  ): Promise<void>
  /** set(): unconditional write with a physical TTL in ms; revokes the lease. */
  write(key: string, leaseKey: string, bytes: Buffer, px: number): Promise<void>
  /**
   * delete (remove) or expire (freshUntil := 0 in place, TTL and LFU kept) entries, revoking
   * their leases. Resolves to how many entries existed / were marked.
   */
  invalidate(
    keys: readonly string[],
    leaseKeys: readonly string[],
    mode: 'delete' | 'expire',
  ): Promise<number>
  extendLock(leaseKey: string, token: string, ttl: number): Promise<boolean>
  releaseLock(leaseKey: string, token: string): Promise<void>
  /**
   * Delete every key matching a SCAN glob and accepted by `accept`, on every primary, in
   * bounded batches. Resolves to the number of keys deleted that `count` accepts.
   */
  deleteMatching(
    pattern: string,
    batch: number,
    accept: (key: string) => boolean,
    count: (key: string) => boolean,
  ): Promise<number>
  /** Invalidation timestamps of tags (ms), 0 when never invalidated. */
  getTagTimes(keys: readonly string[]): Promise<number[]>
  setTagTimes(keys: readonly string[], time: number, px: number): Promise<void>
  /** Close connections Herdless created; a QUIT not answered within `deadline` ms is cut. */
  close(deadline: number): Promise<void>
}
