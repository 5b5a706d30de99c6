import type { Duration } from './duration'
import type { CacheError } from './errors'

/** A cache tier: `l1` (this process's memory) or `l2` (Redis, or the embedded store). */
export type Tier = 'l1' | 'l2'

/**
 * Why the bus stopped vouching for L1: a sequence `gap`, its own heartbeat not back in time
 * (`silent`), a peer gone silent (`peer-silent`), or the subscriber `disconnected`.
 */
export type BusUnhealthyReason = 'gap' | 'silent' | 'peer-silent' | 'disconnected'

/** One Redis node as the topology monitor last saw it. */
export interface TopologyNode {
  /** The cluster node id (standalone: a stable id derived from the address). */
  id: string
  /** `host:port`. */
  address: string
  /** Its role in the last poll. */
  role: 'primary' | 'replica'
  /** A replica's primary. */
  primaryId?: string
  /** Slot ranges served (primaries). */
  slots: Array<[number, number]>
  /** `used_memory` in bytes. */
  usedMemory: number
  /** 0 when maxmemory is unset (ratio is then 0). */
  maxMemory: number
  /** usedMemory / maxMemory, 0 when maxMemory is 0. */
  memoryRatio: number
  /** `mem_fragmentation_ratio` from `INFO memory`. */
  fragmentationRatio: number
  /** `used_memory_rss` in bytes. */
  rss: number
  /** Whether the last poll reached it. */
  reachable: boolean
}

/** What TopologyMonitor polls (CLUSTER INFO, CLUSTER SHARDS/NODES, INFO memory per node). */
export interface TopologySnapshot {
  /** When the poll finished (ms since the epoch). */
  at: number
  /** A Redis Cluster, or one standalone server. */
  mode: 'standalone' | 'cluster'
  /** `cluster_state` (worst over the primaries that answered); standalone: ok or fail. */
  state: 'ok' | 'fail' | 'unknown'
  /** Slots assigned to a primary (16384 when whole). */
  slotsAssigned: number
  /** Slots whose owner the cluster flagged FAIL. */
  slotsFail: number
  /** Slots whose owner some node suspects (PFAIL). */
  slotsPfail: number
  /** Every node seen, primaries and replicas. */
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
  /** The value, as `getOrSet` would return it. */
  value: T
  /** Where it came from. */
  source: ValueSource
}

/** Loads the value of a key on a miss (or a refresh); see {@link LoaderContext}. */
export type Loader<T> = (ctx: LoaderContext<T>) => T | Promise<T>

/** Every event a cache emits, by name, with its payload. Keys are user keys (no prefix). */
export interface CacheEvents {
  /** A value was served fresh from a tier. */
  hit: {
    /** The user key. */
    key: string
    /** Where it was found. */
    tier: Tier
  }
  /** A tier did not have a fresh value. */
  miss: {
    /** The user key. */
    key: string
    /** The tier that missed. */
    tier: Tier
  }
  /** A stale value was served: while revalidating, because the loader failed or was slow, or another process holds the lock. */
  stale: {
    /** The user key. */
    key: string
    /** Where the stale value came from. */
    tier: Tier
    /** Why it was served. */
    reason: 'revalidate' | 'error' | 'timeout' | 'lock'
  }
  /** A loader run finished with a value. */
  load: {
    /** The user key. */
    key: string
    /** How long the loader ran, in ms. */
    duration: number
    /** True for a background refresh nobody waited on. */
    background: boolean
  }
  /** A loader run failed (rejected, threw or timed out). */
  'load:error': {
    /** The user key. */
    key: string
    /** How long the loader ran, in ms. */
    duration: number
    /** What it threw. */
    error: unknown
  }
  /** An entry was written to L2. */
  write: {
    /** The user key. */
    key: string
    /** The encoded entry size. */
    bytes: number
    /** True when an invalidation since the load began kept the value out (it was not stored). */
    fenced: boolean
  }
  /** An L2 write was skipped on purpose (the write guard); the caller still got its value. */
  'write:skipped': {
    /** The user key. */
    key: string
    /** Why, e.g. 'write-guard'. */
    reason: string
    /** The E_WRITE_SKIPPED error naming the node. */
    error: CacheError
  }
  /** `delete()` removed these keys. */
  delete: {
    /** The user keys. */
    keys: readonly string[]
  }
  /** `expire()` turned these keys stale. */
  expire: {
    /** The user keys. */
    keys: readonly string[]
  }
  /** This process took the lock of a key to load it. */
  'lock:acquired': {
    /** The user key. */
    key: string
  }
  /** A caller waited for another process's load. */
  'lock:wait': {
    /** The user key. */
    key: string
    /** How long it waited, in ms. */
    duration: number
    /** It got the value, gave up after `lock.wait`, or took the lock over. */
    outcome: 'value' | 'timeout' | 'takeover'
  }
  /** A waiter gave up after `lock.wait`. */
  'lock:timeout': {
    /** The user key. */
    key: string
    /** How long it waited, in ms. */
    duration: number
  }
  /** A holder's lock expired or was taken while its loader ran; its value is not stored. */
  'lock:lost': {
    /** The user key. */
    key: string
  }
  /** Invalidation messages were published on the bus. */
  'bus:published': {
    /** The message type (set, del, exp, tags, ...). */
    type: string
    /** How many keys (or tags, patterns) it carried. */
    count: number
  }
  /** Invalidation messages from other processes were applied to L1. */
  'bus:received': {
    /** The message type (set, del, exp, tags, ...). */
    type: string
    /** How many keys (or tags, patterns) it carried. */
    count: number
  }
  /** A bus message was dropped: malformed, unsigned, forged, or replayed. */
  'bus:rejected': {
    /** Why it was dropped. */
    reason: string
  }
  /** The bus subscriber is (again) subscribed; L1 is in use from here on. */
  'bus:ready': {
    /** False the first time, true after a reconnection. */
    reconnect: boolean
  }
  /** The bus came back after a drop; L1 was cleared. */
  'bus:reconnected': {
    /** How many L1 entries were dropped. */
    cleared: number
  }
  /**
   * The bus can no longer be shown whole (a sequence gap, its own heartbeat not back within the
   * health window, a peer gone silent, or the subscriber disconnected): L1 and in-process tag
   * times were dropped and reads go to Redis until `bus:ready` fires again.
   */
  'bus:unhealthy': {
    /** What was missed. */
    reason: BusUnhealthyReason
    /** The bus channel concerned, when it is one channel. */
    channel: string | undefined
  }
  /** Every poll of the topology monitor. */
  'topology:snapshot': {
    /** What the poll saw. */
    snapshot: TopologySnapshot
  }
  /** Nodes, roles, slot ranges or reachability changed (also the first poll). */
  'topology:changed': {
    /** What the poll saw. */
    snapshot: TopologySnapshot
    /** The snapshot before; undefined on the first poll. */
    previous: TopologySnapshot | undefined
  }
  /** The deployment became degraded (cluster_state, failed or unassigned slots, an unreachable primary). */
  'topology:degraded': {
    /** What the poll saw. */
    snapshot: TopologySnapshot
    /** One line per cause. */
    reasons: string[]
  }
  /** It is no longer degraded. */
  'topology:recovered': {
    /** What the poll saw. */
    snapshot: TopologySnapshot
  }
  /** A primary stayed above 0.75 of maxmemory for 3 polls in a row (once per episode). */
  'topology:scale-needed': {
    /** What the poll saw. */
    snapshot: TopologySnapshot
    /** The full primary. */
    node: TopologyNode
    /** How many polls in a row it was above the ratio. */
    polls: number
  }
  /** Something failed and was handled (fail-open) or is reported besides a throw. */
  error: {
    /** The coded error. */
    error: CacheError
    /** The user key involved, if any. */
    key?: string | undefined
    /** Where it happened, e.g. 'get', 'write', 'topology', 'connection'. */
    operation: string
  }
}

/** The name of a cache event. */
export type CacheEventName = keyof CacheEvents
/** A listener of event `E`. */
export type CacheListener<E extends CacheEventName> = (event: CacheEvents[E]) => void
