import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel'

/** What a trace subscriber sees for each cache operation (`start`, `asyncEnd`, `error`...). */
export interface CacheTraceContext {
  /**
   * The traced operation: `getOrSet` (and `getOrSetResult`), the one call whose path (L1, L2,
   * lock, loader) is worth a span. Other methods are not traced; a new name here is a new
   * member of this union, announced in the changelog.
   */
  operation: 'getOrSet'
  /** The user key (never sent anywhere by core; instrumentations map it to a key group). */
  key: string
  /** The cache prefix. */
  prefix: string
  /** Filled in as the call runs: where the answer came from and how. */
  tier?: 'l1' | 'l2' | 'loader'
  /** Not `result`: diagnostics_channel's tracePromise writes the resolved value there. */
  outcome?: 'hit' | 'miss' | 'stale'
  /** Set by diagnostics_channel on asyncEnd: the resolved value (the user's data). */
  result?: unknown
  /** Set by diagnostics_channel on error. */
  error?: unknown
}

/**
 * `herdless:cache` tracing channel. Core only publishes when someone subscribes
 * (`hasSubscribers` is checked first), so an uninstrumented cache pays nothing.
 */
export const cacheTrace: TracingChannel<unknown, CacheTraceContext> = tracingChannel<
  unknown,
  CacheTraceContext
>('herdless:cache')
