import { EventEmitter } from 'node:events'
import type { CacheEventName, CacheEvents, CacheListener } from '@herdless/core'
import type { Command, Redis } from 'ioredis'
import type { Registry } from 'prom-client'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parse Prometheus text exposition (what a scrape of /metrics returns) into samples. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`unparsable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c))
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return samples
}

/** `name{a="x",b="y"}` with labels sorted: a stable key for comparing scrapes. */
export function seriesKey(s: Pick<Sample, 'name' | 'labels'>): string {
  const labels = Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')
  return `${s.name}{${labels}}`
}

/**
 * Every non-zero counter sample and histogram `_count` of the herdless_ metrics in a scrape,
 * as `seriesKey -> value` (buckets and sums are left out: their values depend on timing).
 */
export async function nonZeroCounts(registry: Registry, filter: (s: Sample) => boolean = () => true) {
  const out: Record<string, number> = {}
  for (const s of parseExposition(await registry.metrics())) {
    if (!s.name.startsWith('herdless_') || s.value === 0 || !filter(s)) continue
    if (s.name.endsWith('_bucket') || s.name.endsWith('_sum')) continue
    out[seriesKey(s)] = s.value
  }
  return out
}

/** Every herdless_* metric name registered (histograms by their base name). */
export async function registeredNames(registry: Registry): Promise<Set<string>> {
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name))
}

/** Each registered metric's label names (histograms also accept `le`). */
export function labelNames(registry: Registry): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const m of registry.getMetricsAsArray()) {
    const metric = m as unknown as { name: string; type?: string; labelNames?: string[] }
    const labels = new Set(metric.labelNames ?? [])
    if (metric.type === 'histogram') labels.add('le')
    out.set(metric.name, labels)
  }
  return out
}

/**
 * The `herdless_*` metric names a PromQL expression selects, with histogram series suffixes
 * (_bucket, _sum, _count) mapped back to the histogram's name when the registry has it.
 */
export function promqlMetricNames(expr: string, registered: Set<string>): string[] {
  const names = new Set<string>()
  // Strip string literals (label values such as "hit|miss") before looking for identifiers.
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  for (const m of bare.matchAll(/\b(herdless_[a-zA-Z0-9_:]*)/g)) {
    const name = m[1] as string
    const base = name.replace(/_(bucket|sum|count)$/, '')
    names.add(registered.has(name) ? name : base !== name && registered.has(base) ? base : name)
  }
  return [...names]
}

/** Label names used in `metric{...}` selectors of an expression, per metric. */
export function selectorLabels(expr: string): Array<{ metric: string; labels: string[] }> {
  const out: Array<{ metric: string; labels: string[] }> = []
  for (const m of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    const labels = [...(m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    )
    out.push({ metric: m[1] as string, labels })
  }
  return out
}

/**
 * A bare event source shaped like a cache, for the events a test cannot make a real cache
 * emit today (topology snapshots: the monitor is not in core yet). Nothing here talks to Redis.
 */
export class ManualEvents {
  readonly #emitter = new EventEmitter()
  readonly prefix: string
  l1Size = 0

  constructor(prefix = 'manual') {
    this.prefix = prefix
  }

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#emitter.on(event, listener)
    return this
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#emitter.off(event, listener)
    return this
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    this.#emitter.emit(event, payload)
  }

  listenerCount(): number {
    return this.#emitter.eventNames().reduce((n, e) => n + this.#emitter.listenerCount(e), 0)
  }
}

/** A promise and the function that settles it: holds a loader until the test lets it go. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open = () => {}
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}

/**
 * Resolves when `client` sends `SET <lockKey> ... NX` and Redis refuses it (another process
 * holds the lock). Watches the client's own commands; nothing is faked.
 */
export function lockRefused(client: Redis, lockKey: string): Promise<void> {
  return new Promise((resolve) => {
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((command: Command, stream?: never) => {
      const reply = send(command, stream)
      // The lease is taken by the read-or-lock script (EVALSHA sha 2 <entry> <lease> ...): 0 = refused.
      const script = command.name === 'evalsha' || command.name === 'eval'
      if (script && String(command.args[3]) === lockKey) {
        command.promise.then(
          (r: unknown) => {
            if (r === 0) resolve()
          },
          () => {},
        )
      }
      return reply
    }) as Redis['sendCommand']
  })
}
