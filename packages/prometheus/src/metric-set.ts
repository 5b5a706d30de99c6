import { InvalidOptionError } from '@herdless/core'
import { Counter, Gauge, Histogram, type Registry, type RegistryContentType } from 'prom-client'

type AnyRegistry = Registry<RegistryContentType>

/** Seconds; covers a 1 ms Redis round trip up to the default 5 s lock wait and beyond. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

export interface ResolvedBuckets {
  loader: number[]
  lockWait: number[]
}

/** What one registered cache contributes at scrape time. */
export interface ScrapeReader {
  readonly cacheName: string
  l1Size(): number
  /** Move request counts gathered since the last scrape into the requests counter. */
  flushRequests(): void
}

type CollectFn = () => unknown

/**
 * Every metric of one prefix on one registry. Several caches share it: each writes its own
 * `cache` label value, so one scrape shows them side by side and sums across them are honest.
 */
export class MetricSet {
  readonly requests: Counter<'cache' | 'result' | 'tier' | 'key_group'>
  readonly loaderDuration: Histogram<'cache' | 'key_group' | 'result'>
  readonly lockWait: Histogram<'cache' | 'key_group' | 'outcome'>
  readonly lockTimeouts: Counter<'cache' | 'key_group'>
  readonly loaderErrors: Counter<'cache' | 'key_group'>
  readonly redisErrors: Counter<'cache' | 'code'>
  readonly writesSkipped: Counter<'cache' | 'reason'>
  readonly busMessages: Counter<'cache' | 'direction' | 'result'>
  readonly l1Entries: Gauge<'cache'>
  readonly clusterState: Gauge<'cache'>
  readonly clusterSlotsFail: Gauge<'cache'>
  readonly nodeMemoryRatio: Gauge<'cache' | 'node'>
  /** Live registrations, read at scrape time. */
  readonly readers = new Set<ScrapeReader>()

  constructor(registry: AnyRegistry, prefix: string, buckets: ResolvedBuckets) {
    const registers = [registry]
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
      obtain(
        registry,
        prefix + name,
        'counter',
        labelNames,
        () => new Counter<L>({ name: prefix + name, help, labelNames, registers }),
      )
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> =>
      obtain(
        registry,
        prefix + name,
        'gauge',
        labelNames,
        () => new Gauge<L>({ name: prefix + name, help, labelNames, registers }),
      )
    const histogram = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      b: number[],
    ): Histogram<L> =>
      obtain(
        registry,
        prefix + name,
        'histogram',
        labelNames,
        () => new Histogram<L>({ name: prefix + name, help, labelNames, buckets: b, registers }),
      )

    this.requests = counter(
      'requests_total',
      'Cache lookups by outcome (hit, miss, stale from core events; bypass from the HTTP layer) and tier.',
      ['cache', 'result', 'tier', 'key_group'],
    )
    this.loaderDuration = histogram(
      'loader_duration_seconds',
      'How long loaders ran, successful (result="ok") and failed (result="error").',
      ['cache', 'key_group', 'result'],
      buckets.loader,
    )
    this.lockWait = histogram(
      'lock_wait_seconds',
      "How long callers waited for another process's load, by how the wait ended (value, takeover, timeout).",
      ['cache', 'key_group', 'outcome'],
      buckets.lockWait,
    )
    this.lockTimeouts = counter('lock_timeouts_total', 'Waits for another holder that ran past lock.wait.', [
      'cache',
      'key_group',
    ])
    this.loaderErrors = counter('loader_errors_total', 'Loader calls that threw or rejected.', [
      'cache',
      'key_group',
    ])
    this.redisErrors = counter(
      'redis_errors_total',
      "Errors the cache reported through its 'error' event, by stable error code.",
      ['cache', 'code'],
    )
    this.writesSkipped = counter(
      'writes_skipped_total',
      'L2 writes deliberately skipped (write guard, value too large, not serializable).',
      ['cache', 'reason'],
    )
    this.busMessages = counter(
      'bus_messages_total',
      'Invalidation bus messages published and received; result="rejected" for dropped (unsigned, forged, malformed) ones.',
      ['cache', 'direction', 'result'],
    )
    this.l1Entries = gauge('l1_entries', 'Entries held in the in-process L1 tier.', ['cache'])
    this.clusterState = gauge(
      'cluster_state',
      'Cluster state from the topology monitor: 1 ok, 0 fail, -1 unknown.',
      ['cache'],
    )
    this.clusterSlotsFail = gauge(
      'cluster_slots_fail',
      'Hash slots served by a node in FAIL state, from the topology monitor.',
      ['cache'],
    )
    this.nodeMemoryRatio = gauge(
      'node_memory_ratio',
      'used_memory / maxmemory per Redis node from the topology monitor (0 when maxmemory is unset).',
      ['cache', 'node'],
    )

    // Read L1 sizes when scraped, not on every write.
    const readers = this.readers
    const l1Entries = this.l1Entries
    onCollect(this.l1Entries, () => {
      const sums = new Map<string, number>()
      for (const r of readers) sums.set(r.cacheName, (sums.get(r.cacheName) ?? 0) + r.l1Size())
      for (const [cache, size] of sums) l1Entries.set({ cache }, size)
    })
    // Lookups are the hot path (millions per second on L1 hits): they are counted in plain
    // numbers per label set and added to the counter when it is read.
    onCollect(this.requests, () => {
      for (const r of readers) r.flushRequests()
    })
  }
}

/**
 * Run `fn` whenever prom-client reads `metric` (scrape, getSingleMetric...). Chained, so a
 * metric adopted from another copy of this package keeps that copy's hook too.
 */
function onCollect(metric: object, fn: () => void): void {
  const target = metric as { collect?: CollectFn }
  const previous = target.collect
  target.collect = function collect(this: unknown) {
    const result = previous?.call(this)
    fn()
    return result
  }
}

const sets = new WeakMap<AnyRegistry, Map<string, MetricSet>>()

/** The metric set for `prefix` on `registry`, created on first use and shared afterwards. */
export function metricSetFor(registry: AnyRegistry, prefix: string, buckets: ResolvedBuckets): MetricSet {
  let byPrefix = sets.get(registry)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    sets.set(registry, byPrefix)
  }
  let set = byPrefix.get(prefix)
  if (set === undefined) {
    set = new MetricSet(registry, prefix, buckets)
    byPrefix.set(prefix, set)
  }
  return set
}

/**
 * Reuse a metric already in the registry (registered earlier, or by another copy of this
 * package), provided it has the same type and labels; anything else is a naming clash.
 */
function obtain<M>(
  registry: AnyRegistry,
  name: string,
  type: 'counter' | 'gauge' | 'histogram',
  labelNames: readonly string[],
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name)
  if (existing === undefined) return create()
  const found = existing as unknown as { type?: unknown; labelNames?: unknown }
  const labels = Array.isArray(found.labelNames) ? (found.labelNames as unknown[]).map(String) : []
  if (found.type !== type || [...labels].sort().join() !== [...labelNames].sort().join()) {
    throw new InvalidOptionError(
      'registry',
      `a registry where "${name}" is free or is a ${type} with labels [${labelNames.join(', ')}] (use another prefix)`,
      `a ${String(found.type)} with labels [${labels.join(', ')}]`,
    )
  }
  return existing as unknown as M
}
