import {
  type CacheEventName,
  type CacheEvents,
  type CacheListener,
  InvalidOptionError,
  type TopologySnapshot,
} from '@herdless/core'
import { register as globalRegistry, type Registry, type RegistryContentType } from 'prom-client'
import { compileKeyGroups, type KeyGroup, type KeyGrouper, OTHER_GROUP } from './key-groups'
import {
  DEFAULT_BUCKETS,
  type MetricSet,
  metricSetFor,
  type ResolvedBuckets,
  type ScrapeReader,
} from './metric-set'

/**
 * What registerMetrics needs from a cache: its events (a Herdless `Cache` or namespace fits).
 * Namespaces share their parent's events, so register the root cache once, not each namespace.
 */
export interface MetricsSource {
  /** Subscribe to a cache event. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): unknown
  /** Unsubscribe. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): unknown
  /** Used as the default `cache` label value. */
  readonly prefix?: string
  /** Entries in the in-process tier, read at scrape time for `herdless_l1_entries`. */
  readonly l1Size?: number
}

/** Histogram buckets (seconds) per histogram. */
export interface HistogramBuckets {
  /** @default DEFAULT_BUCKETS (1 ms .. 10 s) */
  loader?: number[]
  /** @default DEFAULT_BUCKETS (1 ms .. 10 s) */
  lockWait?: number[]
}

/** Options of `registerMetrics()`. */
export interface MetricsOptions {
  /** Where the metrics live. @default prom-client's global `register` */
  registry?: Registry<RegistryContentType>
  /** Metric name prefix. @default 'herdless_' */
  prefix?: string
  /** Key pattern → group name; keys reach labels only as `key_group` ('other' when none matches). */
  keyGroups?: KeyGroup[]
  /**
   * Histogram buckets in seconds, for both histograms or each. Used when the metrics are first
   * created on a registry; later registrations on the same registry share those buckets.
   */
  buckets?: number[] | HistogramBuckets
  /** Value of the `cache` label on every series of this cache. @default the cache's prefix */
  cacheName?: string
}

/** What `registerMetrics()` returns. */
export interface CacheMetrics {
  /** Count a request the HTTP layer answered without consulting the cache (`result="bypass"`, `tier="none"`). */
  recordBypass(key?: string): void
  /** Stop counting this cache. Counters keep their totals; this cache's gauges are removed. Idempotent. */
  unregister(): void
}

const PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/
const CODE = /^E_[A-Z0-9_]{1,40}$/
const REASON = /^[A-Za-z0-9_.-]{1,40}$/
const TIERS = ['l1', 'l2'] as const
const RESULTS = ['hit', 'miss', 'stale'] as const

/**
 * Count a cache's events into prom-client metrics. Registering several caches (or the same
 * one twice) on one registry never throws: metrics are created once per registry and prefix
 * and shared, each cache writing its own `cache` label. The same cache registered twice with
 * the same `cacheName` is counted once (the first registration's keyGroups apply).
 *
 * @example
 * const metrics = registerMetrics(cache, { keyGroups: [{ pattern: 'user:*', group: 'user' }] })
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()))
 */
export function registerMetrics(cache: MetricsSource, options: MetricsOptions = {}): CacheMetrics {
  if (
    typeof cache !== 'object' ||
    cache === null ||
    typeof cache.on !== 'function' ||
    typeof cache.off !== 'function'
  ) {
    throw new InvalidOptionError('cache', 'a Herdless cache (createCache())', cache)
  }
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'an object', options)
  const registry = options.registry ?? globalRegistry
  if (typeof registry?.getSingleMetric !== 'function' || typeof registry.registerMetric !== 'function') {
    throw new InvalidOptionError('registry', 'a prom-client Registry', registry)
  }
  const prefix = options.prefix ?? 'herdless_'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidOptionError(
      'prefix',
      'a Prometheus metric name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*',
      prefix,
    )
  }
  const cacheName = options.cacheName ?? (typeof cache.prefix === 'string' ? cache.prefix : 'default')
  if (typeof cacheName !== 'string' || cacheName.length === 0 || cacheName.length > 128) {
    throw new InvalidOptionError('cacheName', 'a non-empty string of at most 128 characters', cacheName)
  }
  const grouper = compileKeyGroups(options.keyGroups)
  const buckets = resolveBuckets(options.buckets)
  const set = metricSetFor(registry, prefix, buckets)

  let byName = bindings.get(set)?.get(cache)
  if (byName === undefined) {
    byName = new Map()
    let byCache = bindings.get(set)
    if (byCache === undefined) {
      byCache = new WeakMap()
      bindings.set(set, byCache)
    }
    byCache.set(cache, byName)
  }
  let binding = byName.get(cacheName)
  if (binding === undefined) {
    const created = new Binding(cache, set, cacheName, grouper, () => byName.delete(cacheName))
    byName.set(cacheName, created)
    binding = created
  } else binding.refs++

  const bound = binding
  let active = true
  return {
    recordBypass(key?: string): void {
      if (!active) return
      bound.count('bypass', 'none', typeof key === 'string' ? bound.group(key) : OTHER_GROUP)
    },
    unregister(): void {
      if (!active) return
      active = false
      bound.release()
    },
  }
}

const bindings = new WeakMap<MetricSet, WeakMap<object, Map<string, Binding>>>()

/** One cache counted under one `cache` label value; shared by repeated registrations. */
class Binding implements ScrapeReader {
  refs = 1
  readonly cacheName: string
  readonly group: KeyGrouper
  readonly #cache: MetricsSource
  readonly #set: MetricSet
  readonly #forget: () => void
  readonly #nodes = new Set<string>()
  readonly #listeners: Array<[CacheEventName, (event: never) => void]> = []
  /** Request counts not yet added to the counter, per label set (bounded: results x tiers x groups). */
  readonly #pending = new Map<
    string,
    { labels: Record<'cache' | 'result' | 'tier' | 'key_group', string>; n: number }
  >()

  constructor(
    cache: MetricsSource,
    set: MetricSet,
    cacheName: string,
    group: KeyGrouper,
    forget: () => void,
  ) {
    this.#cache = cache
    this.#set = set
    this.cacheName = cacheName
    this.group = group
    this.#forget = forget
    const name = cacheName

    // Zero series up front, so rate() and ratios exist before the first event.
    for (const key_group of new Set([...group.groups, OTHER_GROUP])) {
      for (const result of RESULTS)
        for (const tier of TIERS) set.requests.inc({ cache: name, result, tier, key_group }, 0)
      set.requests.inc({ cache: name, result: 'bypass', tier: 'none', key_group }, 0)
      set.loaderErrors.inc({ cache: name, key_group }, 0)
      set.lockTimeouts.inc({ cache: name, key_group }, 0)
    }

    this.#on('hit', (e) => this.count('hit', e.tier, group(e.key)))
    this.#on('miss', (e) => this.count('miss', e.tier, group(e.key)))
    this.#on('stale', (e) => this.count('stale', e.tier, group(e.key)))
    this.#on('load', (e) =>
      set.loaderDuration.observe({ cache: name, key_group: group(e.key), result: 'ok' }, seconds(e.duration)),
    )
    this.#on('load:error', (e) => {
      const key_group = group(e.key)
      set.loaderErrors.inc({ cache: name, key_group })
      set.loaderDuration.observe({ cache: name, key_group, result: 'error' }, seconds(e.duration))
    })
    this.#on('lock:wait', (e) =>
      set.lockWait.observe(
        { cache: name, key_group: group(e.key), outcome: oneOf(e.outcome, ['value', 'timeout', 'takeover']) },
        seconds(e.duration),
      ),
    )
    this.#on('lock:timeout', (e) => set.lockTimeouts.inc({ cache: name, key_group: group(e.key) }))
    this.#on('error', (e) => {
      const code = (e.error as { code?: unknown } | undefined)?.code
      set.redisErrors.inc({
        cache: name,
        code: typeof code === 'string' && CODE.test(code) ? code : 'E_UNKNOWN',
      })
    })
    this.#on('write:skipped', (e) =>
      set.writesSkipped.inc({ cache: name, reason: REASON.test(e.reason) ? e.reason : 'other' }),
    )
    this.#on('bus:published', () =>
      set.busMessages.inc({ cache: name, direction: 'published', result: 'ok' }),
    )
    this.#on('bus:received', () => set.busMessages.inc({ cache: name, direction: 'received', result: 'ok' }))
    this.#on('bus:rejected', () =>
      set.busMessages.inc({ cache: name, direction: 'received', result: 'rejected' }),
    )
    this.#on('topology:snapshot', (e) => this.#topology(e.snapshot))
    set.readers.add(this)
  }

  count(result: string, tier: string, key_group: string): void {
    const t = tier === 'l1' || tier === 'l2' || tier === 'none' ? tier : 'other'
    const id = `${result}|${t}|${key_group}`
    let cell = this.#pending.get(id)
    if (cell === undefined) {
      cell = { labels: { cache: this.cacheName, result, tier: t, key_group }, n: 0 }
      this.#pending.set(id, cell)
    }
    cell.n++
  }

  flushRequests(): void {
    for (const cell of this.#pending.values()) {
      if (cell.n === 0) continue
      this.#set.requests.inc(cell.labels, cell.n)
      cell.n = 0
    }
  }

  l1Size(): number {
    const size = this.#cache.l1Size
    return typeof size === 'number' && Number.isFinite(size) ? size : 0
  }

  release(): void {
    if (--this.refs > 0) return
    for (const [event, listener] of this.#listeners)
      this.#cache.off(event, listener as CacheListener<typeof event>)
    this.#listeners.length = 0
    const set = this.#set
    this.flushRequests()
    set.readers.delete(this)
    this.#forget()
    const cache = this.cacheName
    if (![...set.readers].some((r) => r.cacheName === cache)) set.l1Entries.remove({ cache })
    set.clusterState.remove({ cache })
    set.clusterSlotsFail.remove({ cache })
    for (const node of this.#nodes) set.nodeMemoryRatio.remove({ cache, node })
    this.#nodes.clear()
  }

  #on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.#cache.on(event, listener)
    this.#listeners.push([event, listener as (event: never) => void])
  }

  #topology(snapshot: TopologySnapshot): void {
    const set = this.#set
    const cache = this.cacheName
    set.clusterState.set({ cache }, snapshot.state === 'ok' ? 1 : snapshot.state === 'fail' ? 0 : -1)
    set.clusterSlotsFail.set({ cache }, snapshot.slotsFail)
    const seen = new Set<string>()
    for (const node of snapshot.nodes) {
      seen.add(node.address)
      set.nodeMemoryRatio.set(
        { cache, node: node.address },
        Number.isFinite(node.memoryRatio) ? node.memoryRatio : 0,
      )
    }
    // A node that left the topology must not keep its last ratio forever.
    for (const node of this.#nodes) if (!seen.has(node)) set.nodeMemoryRatio.remove({ cache, node })
    this.#nodes.clear()
    for (const node of seen) this.#nodes.add(node)
  }
}

function seconds(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0
}

function oneOf<T extends string>(value: string, allowed: readonly T[]): T | 'other' {
  return (allowed as readonly string[]).includes(value) ? (value as T) : 'other'
}

function resolveBuckets(buckets: MetricsOptions['buckets']): ResolvedBuckets {
  if (buckets === undefined) return { loader: [...DEFAULT_BUCKETS], lockWait: [...DEFAULT_BUCKETS] }
  if (Array.isArray(buckets)) {
    const b = checkBuckets(buckets, 'buckets')
    return { loader: b, lockWait: [...b] }
  }
  if (typeof buckets !== 'object' || buckets === null) {
    throw new InvalidOptionError('buckets', 'an array of seconds or { loader?, lockWait? }', buckets)
  }
  return {
    loader:
      buckets.loader === undefined ? [...DEFAULT_BUCKETS] : checkBuckets(buckets.loader, 'buckets.loader'),
    lockWait:
      buckets.lockWait === undefined
        ? [...DEFAULT_BUCKETS]
        : checkBuckets(buckets.lockWait, 'buckets.lockWait'),
  }
}

function checkBuckets(b: unknown, option: string): number[] {
  const ok =
    Array.isArray(b) &&
    b.length > 0 &&
    b.every(
      (v, i) => typeof v === 'number' && Number.isFinite(v) && v > 0 && (i === 0 || v > (b[i - 1] as number)),
    )
  if (!ok)
    throw new InvalidOptionError(option, 'a non-empty, strictly ascending array of positive seconds', b)
  return [...(b as number[])]
}
