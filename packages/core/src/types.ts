import type { Duration } from './duration'
import type { CacheError } from './errors'

export type Tier = 'l1' | 'l2'

/** One Redis node as the topology monitor last saw it. */
export type BusUnhealthyReason = 'gap' | 'silent' | 'peer-silent' | 'disconnected'

export interface TopologyNode {
  id: string
  address: string
  role: 'primary' | 'replica'
  primaryId?: string
  /** Slot ranges served (primaries). */
  slots: Array<[number, number]>
  usedMemory: number
  /** 0 when maxmemory is unset (ratio is then 0). */
  maxMemory: number
  /** usedMemory / maxMemory, 0 when maxMemory is 0. */
  memoryRatio: number
  fragmentationRatio: number
  rss: number
  reachable: boolean
}

/** What TopologyMonitor polls (CLUSTER INFO, CLUSTER SHARDS/NODES, INFO memory per node). */
export interface TopologySnapshot {
  at: number
  mode: 'standalone' | 'cluster'
  state: 'ok' | 'fail' | 'unknown'
  slotsAssigned: number
  slotsFail: number
  slotsPfail: number
  nodes: TopologyNode[]
}

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The key being loaded (without prefix or namespace). */
  readonly key: string
  /** Fires at timeouts.hard (and when the cache closes). Pass it to fetch / your DB driver. */
  readonly signal: AbortSignal
  /** The stale value being replaced, if any. */
  readonly stale: T | undefined
  /**
   * True when this run is a background refresh (stale-while-revalidate or early refresh): no
   * caller waits for it.
   */
  readonly background: boolean
  /** Override the fresh TTL for this result. */
  setTtl(ttl: Duration): void
  /** Override the tags for this result. */
  setTags(tags: readonly string[]): void
  /** Return the value but do not cache it. */
  skip(): void
}

/**
 * Where a value came from (`getOrSetResult`):
 * - `l1`: this process's in-memory tier; `l2`: a fresh Redis (or embedded store) entry;
 * - `loader`: this call ran the loader; `joined`: it joined a load already in flight in this
 *   process; `peer`: another process loaded it while this call waited;
 * - `stale`: an entry past its freshness (revalidating, the loader failed or was slow, or
 *   another process holds the lock).
 */
export type ValueSource = 'l1' | 'l2' | 'loader' | 'joined' | 'peer' | 'stale'

/** getOrSetResult's answer. */
export interface CacheResult<T> {
  value: T
  source: ValueSource
}

export type Loader<T> = (ctx: LoaderContext<T>) => T | Promise<T>

export interface CacheEvents {
  hit: { key: string; tier: Tier }
  miss: { key: string; tier: Tier }
  /** A stale value was served: while revalidating, because the loader failed or was slow, or another process holds the lock. */
  stale: { key: string; tier: Tier; reason: 'revalidate' | 'error' | 'timeout' | 'lock' }
  load: { key: string; duration: number; background: boolean }
  'load:error': { key: string; duration: number; error: unknown }
  write: { key: string; bytes: number; fenced: boolean }
  'write:skipped': { key: string; reason: string; error: CacheError }
  delete: { keys: readonly string[] }
  expire: { keys: readonly string[] }
  'lock:acquired': { key: string }
  'lock:wait': { key: string; duration: number; outcome: 'value' | 'timeout' | 'takeover' }
  'lock:timeout': { key: string; duration: number }
  'lock:lost': { key: string }
  'bus:published': { type: string; count: number }
  'bus:received': { type: string; count: number }
  'bus:rejected': { reason: string }
  /** The bus subscriber is (again) subscribed; L1 is in use from here on. */
  'bus:ready': { reconnect: boolean }
  'bus:reconnected': { cleared: number }
  /**
   * The bus can no longer be shown whole (a sequence gap, its own heartbeat not back within the
   * health window, a peer gone silent, or the subscriber disconnected): L1 and in-process tag
   * times were dropped and reads go to Redis until `bus:ready` fires again.
   */
  'bus:unhealthy': { reason: BusUnhealthyReason; channel: string | undefined }
  /** Every poll of the topology monitor. */
  'topology:snapshot': { snapshot: TopologySnapshot }
  'topology:changed': { snapshot: TopologySnapshot; previous: TopologySnapshot | undefined }
  'topology:degraded': { snapshot: TopologySnapshot; reasons: string[] }
  'topology:recovered': { snapshot: TopologySnapshot }
  'topology:scale-needed': { snapshot: TopologySnapshot; node: TopologyNode; polls: number }
  error: { error: CacheError; key?: string | undefined; operation: string }
}

export type CacheEventName = keyof CacheEvents
export type CacheListener<E extends CacheEventName> = (event: CacheEvents[E]) => void
