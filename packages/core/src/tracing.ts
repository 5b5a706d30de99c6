import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel'

/** What a trace subscriber sees for each cache operation (`start`, `asyncEnd`, `error`...). */
export interface CacheTraceContext {
  operation:
    | 'getOrSet'
    | 'get'
    | 'set'
    | 'delete'
    | 'expire'
    | 'invalidateTags'
    | 'invalidatePattern'
    | 'clear'
  /** The user key (never sent anywhere by core; instrumentations map it to a key group). */
  key: string
  /** The cache prefix. */
  prefix: string
  /** Filled in as the call runs: 'l1' | 'l2' | 'loader' and 'hit' | 'miss' | 'stale'. */
  tier?: 'l1' | 'l2' | 'loader'
  result?: 'hit' | 'miss' | 'stale'
  lockWaitMs?: number
  /** Set by diagnostics_channel on asyncEnd. */
  result_value?: unknown
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
