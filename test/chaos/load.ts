import type { Cache } from '@herdless/core'

/** What callers saw, counted per key group ('all' plus any groups the caller defines). */
export interface Counts {
  requests: number
  /** getOrSet rejected: a caller saw a thrown error. Fail-open means this stays 0. */
  errors: number
  /** The value returned was not the key's value. */
  wrong: number
  loaderCalls: number
  /** L2 hits (the 'hit' event). */
  hits: number
  /** 'error' events (Redis trouble turned into fail-open answers). */
  errorEvents: number
  /** Slowest getOrSet, ms (printed, never asserted). */
  maxLatencyMs: number
}

export interface LoadOptions {
  keys: readonly string[]
  /** Concurrent callers. @default 8 */
  callers?: number
  /** Hard bounds: the load stops at whichever comes first. */
  maxRequests: number
  maxMs: number
  /** Pause between one caller's requests, to leave the 2 cores to Redis. @default 2 */
  pauseMs?: number
  /** Group of a key (e.g. 'dead-shard' / 'live-shard'); counted separately. */
  groupOf?: (key: string) => string
}

export const expectedValue = (key: string): string => `v:${key}`

const empty = (): Counts => ({
  requests: 0,
  errors: 0,
  wrong: 0,
  loaderCalls: 0,
  hits: 0,
  errorEvents: 0,
  maxLatencyMs: 0,
})

/**
 * Steady getOrSet load from several concurrent callers, bounded in count and time. Counters can
 * be cut into phases with `mark()`: the counts from the last mark on are kept apart.
 */
export class Load {
  readonly total = new Map<string, Counts>()
  phase = new Map<string, Counts>()
  readonly errorsSeen: string[] = []
  /** 'error' events by code and message head, for the printout. */
  readonly errorKinds = new Map<string, number>()
  readonly #options: LoadOptions
  readonly #done: Promise<void>
  #stop = false

  constructor(cache: Cache, options: LoadOptions) {
    this.#options = options
    const group = options.groupOf ?? (() => 'all')
    const keyGroup = new Map(options.keys.map((k) => [k, group(k)]))
    cache.on('hit', (e) => this.#add(keyGroup.get(e.key), 'hits'))
    cache.on('error', (e) => {
      this.#add(e.key === undefined ? undefined : keyGroup.get(e.key), 'errorEvents')
      const kind = `${e.operation} ${e.error.code} ${e.error.message.replace(/\d+/g, 'N').slice(0, 90)}`
      this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1)
    })
    const started = Date.now()
    const callers = options.callers ?? 8
    const pause = options.pauseMs ?? 2
    let next = 0
    const run = async (): Promise<void> => {
      while (!this.#stop && Date.now() - started < options.maxMs) {
        const i = next++
        if (i >= options.maxRequests) return
        const key = options.keys[i % options.keys.length] ?? ''
        const g = keyGroup.get(key)
        this.#add(g, 'requests')
        const t0 = performance.now()
        try {
          const v = await cache.getOrSet(key, () => {
            this.#add(g, 'loaderCalls')
            return expectedValue(key)
          })
          if (v !== expectedValue(key)) this.#add(g, 'wrong')
        } catch (err) {
          this.#add(g, 'errors')
          if (this.errorsSeen.length < 5) this.errorsSeen.push(String(err))
        }
        this.#latency(g, performance.now() - t0)
        if (pause > 0) await new Promise((r) => setTimeout(r, pause))
      }
    }
    this.#done = Promise.all(Array.from({ length: callers }, run)).then(() => {})
  }

  /** Start a new phase: counts from here on are also kept in `phase`. */
  mark(): void {
    this.phase = new Map()
  }

  /** Stop the callers and wait for the requests in flight. */
  async stop(): Promise<void> {
    this.#stop = true
    await this.#done
  }

  get finished(): Promise<void> {
    return this.#done
  }

  count(group = 'all', from: 'total' | 'phase' = 'total'): Counts {
    const m = from === 'total' ? this.total : this.phase
    if (group !== 'all' || this.#options.groupOf === undefined) return m.get(group) ?? empty()
    const sum = empty()
    for (const c of m.values()) {
      for (const k of Object.keys(sum) as Array<keyof Counts>) {
        sum[k] = k === 'maxLatencyMs' ? Math.max(sum[k], c[k]) : sum[k] + c[k]
      }
    }
    return sum
  }

  #bump(m: Map<string, Counts>, g: string): Counts {
    let c = m.get(g)
    if (c === undefined) {
      c = empty()
      m.set(g, c)
    }
    return c
  }

  #add(g: string | undefined, field: Exclude<keyof Counts, 'maxLatencyMs'>): void {
    const group = g ?? 'other'
    this.#bump(this.total, group)[field]++
    this.#bump(this.phase, group)[field]++
  }

  #latency(g: string | undefined, ms: number): void {
    for (const m of [this.total, this.phase]) {
      const c = this.#bump(m, g ?? 'other')
      c.maxLatencyMs = Math.max(c.maxLatencyMs, Math.round(ms))
    }
  }
}

/** One line per group: `requests=.. errors=.. loaderCalls=.. hits=..`. */
export function report(scenario: string, load: Load, from: 'total' | 'phase' = 'total'): string {
  const m = from === 'total' ? load.total : load.phase
  const lines = [...m.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([g, c]) =>
        `  ${g.padEnd(12)} requests=${c.requests} errors=${c.errors} wrong=${c.wrong} loaderCalls=${c.loaderCalls} ` +
        `hits=${c.hits} errorEvents=${c.errorEvents} maxLatencyMs=${c.maxLatencyMs}`,
    )
  const kinds = [...load.errorKinds.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, n]) => `    ${n} x ${k}`)
  const text = `[chaos] ${scenario} (${from})\n${lines.join('\n')}${from === 'total' && kinds.length > 0 ? `\n  error events by kind:\n${kinds.join('\n')}` : ''}`
  console.info(text)
  return text
}

/** Fetch every key once; how many loader calls that took and how many were L2 hits. */
export async function pass(cache: Cache, keys: readonly string[]): Promise<{ loads: number; hits: number }> {
  let loads = 0
  let hits = 0
  const wanted = new Set(keys)
  const onHit = (e: { key: string }) => {
    if (wanted.has(e.key)) hits++
  }
  cache.on('hit', onHit)
  try {
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map((k) =>
          cache.getOrSet(k, () => {
            loads++
            return expectedValue(k)
          }),
        ),
      )
    }
  } finally {
    cache.off('hit', onHit)
  }
  return { loads, hits }
}

/** The monitor's events, in order, for the printout and the assertions. */
export function watchTopology(cache: Cache) {
  const at = Date.now()
  const t = {
    snapshots: 0,
    degraded: 0,
    recovered: 0,
    changed: 0,
    log: [] as string[],
    /** Put what the test did on the same time line. */
    mark(what: string) {
      t.log.push(`+${Date.now() - at}ms ${what}`)
    },
  }
  cache.on('topology:snapshot', () => t.snapshots++)
  cache.on('topology:changed', () => t.changed++)
  cache.on('topology:degraded', (e) => {
    t.degraded++
    t.log.push(`+${Date.now() - at}ms degraded: ${e.reasons.join('; ')}`)
  })
  cache.on('topology:recovered', () => {
    t.recovered++
    t.log.push(`+${Date.now() - at}ms recovered`)
  })
  return t
}
