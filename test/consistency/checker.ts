/**
 * The history checker for docs/consistency.md (Jepsen's approach: record a history, check a
 * model). Pure: a list of operations in, violations and counts out.
 *
 * The "database" behind every key is a counter that rises on every write, and every invalidation
 * bumps it (INCR, recorded as `versions`) before it is called. A loader returns the version it
 * read. So a value below an invalidation's version was read from the database before that
 * invalidation was called: returned by a read that started after the invalidation completed, it
 * is a value "whose load began before X was called" (rule 1), unless a `set` that did not finish
 * before X began wrote it (two writers racing: either may win, that is the application's race).
 */

export type Source = 'l1' | 'l2' | 'loader' | 'joined' | 'peer' | 'stale' | 'unknown' | 'get' | 'getMany'
export type InvalidationType = 'set' | 'delete' | 'expire' | 'tags' | 'pattern' | 'clear'

interface Timed {
  /** Worker id. */
  p: number
  /** Start and end on the shared sub-millisecond clock (ms since the epoch). */
  start: number
  end: number
}

export interface ReadOp extends Timed {
  type: 'read' | 'get'
  key: string
  value?: number
  source?: Source
  error?: string
}

export interface InvalidationOp extends Timed {
  type: InvalidationType
  /** Every key the call invalidates (a tag's keys, a pattern's matches, all for clear). */
  keys: string[]
  /** The database version of each key, written (INCR) just before the call. */
  versions: Record<string, number>
  tag?: string
  pattern?: string
  error?: string
}

export interface LoadOp {
  type: 'load'
  p: number
  key: string
  start: number
  /** When the read that ran this loader began (before it took any lease). */
  readStart?: number
  /** When the database answered. */
  read?: number
  /** Absent when the process ended with the loader still running. */
  end?: number
  value?: number
  threw?: boolean
}

export interface EventOp {
  type: 'event'
  p: number
  name: string
  at: number
  /** A 'stall' (the event loop did not run from `at` to `until`). */
  until?: number
  key?: string
  detail?: string
}

export type Op = ReadOp | InvalidationOp | LoadOp | EventOp

/** Something the harness did to Redis (soak): invalidations completing inside it prove nothing. */
export interface Fault {
  name: string
  start: number
  end: number
  /** false: recorded only (the model holds through it, e.g. a bus drop). @default true */
  exclude?: boolean
}

export interface CheckOptions {
  /** Bus delivery window for another process's L1 and in-process joins. @default 100 */
  windowMs?: number
  /** Ends and starts this close are concurrent, never a violation. @default 1 */
  tieMs?: number
  /** Invalidations completing inside these intervals are not used as constraints. */
  faults?: Fault[]
  /**
   * A window for tag invalidations in other processes whatever the source (L2 included), for a
   * model where tags travel by the bus only. docs/consistency.md says L2 sees them at once. @default 0
   */
  tagWindowMs?: number
}

export interface Violation {
  rule: 1 | 3
  read: ReadOp
  invalidation: InvalidationOp
  /** Loads of the key in flight while the invalidation ran. */
  inFlight: LoadOp[]
  /** Where the returned value came from: the set that wrote it, or the loads that read it. */
  writers: Array<InvalidationOp | LoadOp>
}

export interface EpochCount {
  key: string
  /** Quiet interval between invalidations of the key. */
  from: number
  to: number
  /** Successful loads whose read began inside it and that ended inside it; failed loads inside it. */
  loads: number
  failed: number
  /** Lock timeouts, lock losses and Redis errors inside it (each allows one more load). */
  excused: number
}

export interface CheckResult {
  violations: Violation[]
  stats: {
    ops: number
    reads: number
    readErrors: number
    bySource: Record<string, number>
    invalidations: number
    /** Invalidations not used as constraints: they failed, met a Redis error, or ran during a fault. */
    unsure: number
    loads: number
    loadsFailed: number
    /** Reads that started after at least one completed invalidation of their key. */
    checked: number
    /** Loads that read the database before an invalidation was called and ended after it completed. */
    lateOldLoads: number
    /** Checked reads within 250 ms of such a late old load ending (where a missing fence shows). */
    racyReads: number
    /** Read-invalidation pairs left unchecked: the read's tag lookup failed (failOpen, documented). */
    tagsUnchecked: number
    /** Rule 5: quiet intervals and how many loads each saw. */
    epochs: number
    loadsPerEpoch: Record<string, number>
    /** Intervals with more loads than 1 + failed loads + excuses (the model's bound). */
    epochsOverBound: EpochCount[]
  }
}

const DELETES: ReadonlySet<string> = new Set(['delete', 'pattern', 'clear'])
/** Sources that may be served from another process's state before the bus message arrives. */
const WINDOWED: ReadonlySet<string> = new Set(['l1', 'joined', 'get', 'getMany', 'unknown'])

export function isInvalidation(op: Op): op is InvalidationOp {
  return op.type !== 'read' && op.type !== 'get' && op.type !== 'load' && op.type !== 'event'
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

export function check(ops: readonly Op[], options: CheckOptions = {}): CheckResult {
  const windowMs = options.windowMs ?? 100
  const tie = options.tieMs ?? 1
  const tagWindowMs = options.tagWindowMs ?? 0
  const faults = options.faults ?? []
  const reads = ops.filter((o): o is ReadOp => o.type === 'read' || o.type === 'get')
  const loads = ops.filter((o): o is LoadOp => o.type === 'load')
  const events = ops.filter((o): o is EventOp => o.type === 'event')
  const invs = ops.filter(isInvalidation)

  // An invalidation proves something only when it completed while Redis answered.
  const errorsOf = new Map<number, number[]>()
  for (const e of events) {
    if (e.name !== 'error') continue
    push(errorsOf, e.p, e.at)
  }
  // docs/consistency.md: "a tag lookup fails: with failOpen the entry counts as valid". A read
  // whose process reported a failed tag lookup while it ran is not held to tag invalidations.
  const tagFailuresOf = new Map<number, number[]>()
  for (const e of events) {
    if (e.name === 'error' && e.detail?.endsWith(':tags') === true) push(tagFailuresOf, e.p, e.at)
  }
  const tagsUnknown = (r: ReadOp) =>
    (tagFailuresOf.get(r.p) ?? []).some((t) => t >= r.start - tie && t <= r.end + tie)
  const sure = (x: InvalidationOp) =>
    x.error === undefined &&
    !(errorsOf.get(x.p) ?? []).some((t) => t >= x.start - tie && t <= x.end + tie) &&
    !faults.some((f) => f.exclude !== false && x.end >= f.start && x.start <= f.end)

  // The bus window counts in the reader's event-loop time: add the time it was stalled.
  const stalls = new Map<number, EventOp[]>()
  for (const e of events) if (e.name === 'stall' && e.until !== undefined) push(stalls, e.p, e)
  const stalled = (p: number, from: number, to: number) =>
    (stalls.get(p) ?? []).reduce(
      (sum, e) => sum + Math.max(0, Math.min(to, e.until ?? e.at) - Math.max(from, e.at)),
      0,
    )
  const byKey = new Map<string, InvalidationOp[]>()
  let unsure = 0
  for (const x of invs) {
    if (!sure(x)) {
      unsure++
      continue
    }
    for (const k of x.keys) push(byKey, k, x)
  }
  // Who produced version v of key k (each INCR result belongs to exactly one invalidation).
  const producer = new Map<string, InvalidationOp>()
  for (const x of invs) for (const [k, v] of Object.entries(x.versions)) producer.set(`${k}\0${v}`, x)
  const loadsByKey = new Map<string, LoadOp[]>()
  for (const l of loads) push(loadsByKey, l.key, l)
  const lateMemo = new Map<string, LoadOp[]>()
  const index = new Map(invs.map((x, i) => [x, i]))
  /** Loads of k that read the database before x was called and returned after it completed. */
  const lateOld = (x: InvalidationOp, k: string): LoadOp[] => {
    const id = `${index.get(x)}\0${k}`
    let got = lateMemo.get(id)
    if (got === undefined) {
      got = (loadsByKey.get(k) ?? []).filter(
        (l) =>
          l.start < x.start &&
          (l.end === undefined || l.end > x.end) &&
          l.threw !== true &&
          l.value !== undefined &&
          l.value < (x.versions[k] ?? 0),
      )
      lateMemo.set(id, got)
    }
    return got
  }

  const violations: Violation[] = []
  const bySource: Record<string, number> = {}
  let readErrors = 0
  let checked = 0
  let racyReads = 0
  let tagsUnchecked = 0
  for (const r of reads) {
    if (r.error !== undefined) {
      readErrors++
      continue
    }
    const source = r.source ?? 'unknown'
    bySource[source] = (bySource[source] ?? 0) + 1
    const before = (byKey.get(r.key) ?? []).filter((x) => x.end + tie < r.start)
    if (before.length > 0) checked++
    if (
      before.some(
        (x) => r.start - x.end < 1000 && lateOld(x, r.key).some((l) => r.start < (l.end ?? Infinity) + 250),
      )
    ) {
      racyReads++
    }
    if (r.value === undefined) continue
    const value = r.value
    let worst: InvalidationOp | undefined
    for (const x of before) {
      const v = x.versions[r.key] ?? 0
      if (value >= v) continue
      if (source === 'stale' && !DELETES.has(x.type)) continue
      if (r.p !== x.p && WINDOWED.has(source) && r.start <= x.end + windowMs + stalled(r.p, x.end, r.start)) {
        continue
      }
      if (r.p !== x.p && x.type === 'tags' && r.start <= x.end + tagWindowMs) continue
      if (x.type === 'tags' && tagsUnknown(r)) {
        tagsUnchecked++
        continue
      }
      const w = producer.get(`${r.key}\0${value}`)
      if (w !== undefined && w.type === 'set' && w.end >= x.start - tie) continue
      if (worst === undefined || v > (worst.versions[r.key] ?? 0)) worst = x
    }
    if (worst === undefined) continue
    const x = worst
    const w = producer.get(`${r.key}\0${value}`)
    violations.push({
      rule: source === 'stale' ? 3 : 1,
      read: r,
      invalidation: x,
      inFlight: (loadsByKey.get(r.key) ?? []).filter((l) => l.start < x.end && (l.end ?? Infinity) > x.start),
      writers: [
        ...(w?.type === 'set' ? [w] : []),
        ...(loadsByKey.get(r.key) ?? []).filter((l) => l.value === value && l.threw !== true),
      ],
    })
  }

  let lateOldLoads = 0
  const counted = new Set<LoadOp>()
  for (const [k, list] of byKey) {
    for (const x of list) {
      for (const l of lateOld(x, k)) {
        if (!counted.has(l)) lateOldLoads++
        counted.add(l)
      }
    }
  }

  const epochs = countEpochs(byKey, loadsByKey, events, tie)
  const loadsPerEpoch: Record<string, number> = {}
  for (const e of epochs) loadsPerEpoch[String(e.loads)] = (loadsPerEpoch[String(e.loads)] ?? 0) + 1

  return {
    violations,
    stats: {
      ops: ops.length,
      reads: reads.length,
      readErrors,
      bySource,
      invalidations: invs.length,
      unsure,
      loads: loads.length,
      loadsFailed: loads.filter((l) => l.threw === true).length,
      checked,
      lateOldLoads,
      racyReads,
      tagsUnchecked,
      epochs: epochs.length,
      loadsPerEpoch,
      epochsOverBound: epochs.filter((e) => e.loads > 1 + e.failed + e.excused),
    },
  }
}

/**
 * Rule 5: between two invalidations of a key (the gaps of the union of their intervals), count
 * the loads that began and ended inside the gap (successful ones only when their read began
 * inside it too). The model allows one, plus one per failed load
 * (the next caller loads again), lock timeout or lock loss (a waiter gives up, a holder's lease
 * expires) and Redis error (a load without a lease) in the gap. The first 2 ms of a gap are left
 * out: a tag time equal to a load's createdAt (same millisecond) invalidates it by design.
 */
function countEpochs(
  byKey: Map<string, InvalidationOp[]>,
  loadsByKey: Map<string, LoadOp[]>,
  events: readonly EventOp[],
  tie: number,
): EpochCount[] {
  const out: EpochCount[] = []
  const excuses = events.filter(
    (e) => e.name === 'error' || e.name === 'lock:timeout' || e.name === 'lock:lost',
  )
  for (const [key, list] of byKey) {
    const spans = list.map((x) => [x.start, x.end] as const).sort((a, b) => a[0] - b[0])
    const merged: Array<[number, number]> = []
    for (const [s, e] of spans) {
      const last = merged[merged.length - 1]
      if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e)
      else merged.push([s, e])
    }
    const keyLoads = loadsByKey.get(key) ?? []
    for (let i = 0; i + 1 < merged.length; i++) {
      const from = (merged[i] as [number, number])[1] + 2 * tie
      const to = (merged[i + 1] as [number, number])[0]
      if (to <= from) continue
      // A load counts when its read began inside the interval: a read that began earlier may
      // have taken its lease before the invalidation revoked it (fenced, then loaded again).
      const inside = keyLoads.filter((l) => l.end !== undefined && l.end < to && l.start > from)
      const failed = inside.filter((l) => l.threw === true).length
      const loads = inside.filter((l) => l.threw !== true && (l.readStart ?? l.start) > from).length
      out.push({
        key,
        from,
        to,
        loads,
        failed,
        excused: excuses.filter((e) => e.at > from && e.at < to && (e.key === undefined || e.key === key))
          .length,
      })
    }
  }
  return out
}

const fmt = (t: number, t0: number) => (t - t0).toFixed(2)

export function describeOp(op: Op, t0: number): string {
  switch (op.type) {
    case 'read':
    case 'get':
      return `p${op.p} ${op.type === 'read' ? 'getOrSet' : 'get'}(${op.key}) -> ${op.error ?? op.value} [${op.source}] ${fmt(op.start, t0)}..${fmt(op.end, t0)}`
    case 'load':
      return `p${op.p} load(${op.key}) read db=${op.value ?? '?'} at ${op.read === undefined ? '?' : fmt(op.read, t0)}${op.threw ? ' THREW' : ''} ${fmt(op.start, t0)}..${op.end === undefined ? 'never' : fmt(op.end, t0)}`
    case 'event':
      return `p${op.p} event ${op.name}${op.key ? `(${op.key})` : ''}${op.detail ? ` ${op.detail}` : ''} at ${fmt(op.at, t0)}`
    default: {
      const target = op.type === 'tags' ? op.tag : op.type === 'pattern' ? op.pattern : op.keys.join(',')
      const vs = Object.entries(op.versions)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
      return `p${op.p} ${op.type}(${target ?? ''}) after db ${vs}${op.error ? ` ERROR ${op.error}` : ''} ${fmt(op.start, t0)}..${fmt(op.end, t0)}`
    }
  }
}

/** A violation with the operations around it, for a failure message. Times in ms from `t0`. */
export function formatViolation(v: Violation, ops: readonly Op[], t0: number): string {
  const { read: r, invalidation: x } = v
  const key = r.key
  const from = Math.min(x.start, ...v.inFlight.map((l) => l.start)) - 50
  const near = ops.filter((o) => {
    const at = o.type === 'event' ? o.at : o.start
    const touches =
      o.type === 'event'
        ? o.key === undefined || o.key === key
        : isInvalidation(o)
          ? o.keys.includes(key)
          : o.key === key
    return touches && at >= from && at <= r.end
  })
  const failed = ops.some(
    (o) =>
      o.type === 'load' && o.key === key && o.threw === true && o.start > x.end && (o.end ?? 0) < r.start,
  )
  const lines = [
    `VIOLATION of rule ${v.rule} (${v.rule === 1 ? 'a fresh answer went back' : 'a deleted value came back as stale'}) on ${key}: ` +
      `read ${fmt(r.start - x.end, 0)} ms after the invalidation completed returned ${r.value} < ${x.versions[key]}`,
    `  read:          ${describeOp(r, t0)}`,
    `  invalidation:  ${describeOp(x, t0)}`,
    ...v.writers.slice(0, 4).map((w) => `  value from:    ${describeOp(w, t0)}`),
    ...v.inFlight.slice(0, 6).map((l) => `  in flight:     ${describeOp(l, t0)}`),
    `  ${key} from ${fmt(from, t0)} to ${fmt(r.end, t0)} (${near.length} ops${near.length > 40 ? ', last 40' : ''}):`,
    ...near.slice(-40).map((o) => `    ${describeOp(o, t0)}`),
  ]
  if (x.type === 'tags' && ops.some((o) => o.type === 'clear' && o.start < r.end && o.end > r.start)) {
    lines.push(
      '  hint: a clear() ran during the read (tag times deleted before the entries: clear-tag-times.test.ts)',
    )
  }
  if (x.type === 'expire' && failed) {
    lines.push(
      '  hint: a load of the key failed in between (stale-if-error backoff made the old entry fresh?)',
    )
  }
  return lines.join('\n')
}

/** A rule 5 interval over the bound, with the operations on its key. */
export function formatEpoch(e: EpochCount, ops: readonly Op[], t0: number): string {
  const near = ops.filter((o) => {
    const at = o.type === 'event' ? o.at : o.start
    const touches =
      o.type === 'event'
        ? o.key === undefined || o.key === e.key
        : isInvalidation(o)
          ? o.keys.includes(e.key)
          : o.key === e.key
    return touches && at >= e.from - 200 && at <= e.to
  })
  return [
    `RULE 5 over the bound on ${e.key} ${fmt(e.from, t0)}..${fmt(e.to, t0)}: ${e.loads} loads, ${e.failed} failed, ${e.excused} excused`,
    ...near.slice(-40).map((o) => `    ${describeOp(o, t0)}`),
  ].join('\n')
}
