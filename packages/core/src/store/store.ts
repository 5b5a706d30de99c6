/**
 * What the engine asks of an L2 store. Stores move bytes; envelopes, freshness and
 * events live in the engine. Keys arrive fully built (see keys.ts).
 */
export type WriteResult = 'written' | 'fenced'

export interface Store {
  readonly kind: 'memory' | 'redis'
  get(key: string): Promise<Buffer | null>
  getMany(keys: readonly string[]): Promise<Array<Buffer | null>>
  /** Unconditional write with a physical TTL in ms. */
  set(key: string, bytes: Buffer, px: number): Promise<void>
  /**
   * Write a loader's result. With `token` matching the lock: write and release in one step.
   * Otherwise (lock expired or stolen) write only if no newer entry (by createdAt) is there.
   */
  writeLoaded(
    key: string,
    lockKey: string,
    token: string,
    bytes: Buffer,
    px: number,
    createdAt: number,
  ): Promise<WriteResult>
  delete(keys: readonly string[]): Promise<number>
  /** Rewrite freshUntil in place (keeps TTL and the LFU counter). False when the key is absent. */
  markStale(key: string, freshUntil: number): Promise<boolean>
  acquireLock(lockKey: string, token: string, ttl: number): Promise<boolean>
  extendLock(lockKey: string, token: string, ttl: number): Promise<boolean>
  releaseLock(lockKey: string, token: string): Promise<void>
  /** Delete every key matching a SCAN glob, on every primary, in bounded batches. */
  deleteMatching(pattern: string, batch: number): Promise<number>
  /** Invalidation timestamps of tags (ms), 0 when never invalidated. */
  getTagTimes(keys: readonly string[]): Promise<number[]>
  setTagTimes(keys: readonly string[], time: number, px: number): Promise<void>
  close(): Promise<void>
}
