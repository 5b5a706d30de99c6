import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { uniquePrefix } from '@herdless/test-utils'
import {
  type CheckOptions,
  type CheckResult,
  check,
  type Fault,
  formatEpoch,
  formatViolation,
  type Op,
} from './checker'

export { ensureCoreDist } from '../../packages/core/test/fixtures/fleet'

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url))
/** The built core the workers import (child processes never see vitest's source alias). */
export const CORE_DIST = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url))

export type RedisConfig = string | { cluster: Array<{ host: string; port: number }> }

/**
 * The same clock as the workers' (worker.mjs): hrtime anchored on a Date.now() tick, the largest
 * of five estimates (being descheduled only makes one smaller); µs agreement on one host.
 */
export const clock: () => number = (() => {
  const hr0 = process.hrtime.bigint()
  const hr = () => Number(process.hrtime.bigint() - hr0) / 1e6
  let offset = Number.NEGATIVE_INFINITY
  for (let i = 0; i < 5; i++) {
    const d0 = Date.now()
    let d = Date.now()
    while (d === d0) d = Date.now()
    offset = Math.max(offset, d - hr())
  }
  return () => offset + hr()
})()

export const KEYS = ['a:0', 'a:1', 'b:2', 'b:3', 'c:4']
/** Tags shared between some keys (a:1 carries both), two keys with none. */
export const TAGS: Record<string, string[]> = {
  'a:0': ['ta'],
  'a:1': ['ta', 'tb'],
  'b:2': ['tb'],
  'b:3': [],
  'c:4': [],
}
/** Read like the others, invalidated about 20 times less often (no tag, no pattern matches it). */
export const COLD = ['c:4']
export const PATTERNS = ['a:*', 'b:*', '*:1']

export interface Weights {
  read: number
  get: number
  getMany: number
  set: number
  delete: number
  expire: number
  tags: number
  pattern: number
  clear: number
}
export const WEIGHTS: Weights = {
  read: 55,
  get: 8,
  getMany: 4,
  set: 8,
  delete: 7,
  expire: 7,
  tags: 7,
  pattern: 5,
  clear: 0.2,
}

export interface FleetOptions {
  redis: RedisConfig
  /** The "database": a separate Redis (never the cache's server). */
  db: string
  seed: number
  durationMs: number
  /** @default 4 */
  workers?: number
  /** Concurrent operation loops per worker. @default 3 */
  concurrency?: number
  /**
   * Path of the core build's index.js. @default CONSISTENCY_CORE or CORE_DIST. A build without
   * getOrSetResult (the old protocol) is driven through getOrSet, every answer counted as fresh.
   */
  core?: string
  sharded?: boolean
  loaderMaxMs?: number
  loaderFailRate?: number
  pauseMaxMs?: number
  weights?: Partial<Weights>
  /** Runs while the workers do (soak): returns what it did, on the shared clock. */
  faults?: () => Promise<Fault[]>
}

export interface FleetRun {
  ops: Op[]
  faults: Fault[]
  /** Per worker: written / fenced writes, bus reconnects. */
  counts: Array<{ fenced: number; written: number; busReconnected: number }>
  t0: number
}

interface Child {
  proc: ChildProcess
  lines: Array<{ type: string; [k: string]: unknown }>
  stderr: string
  exited: Promise<number | null>
}

function start(config: object): Child {
  const proc = spawn(process.execPath, [WORKER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const child: Child = {
    proc,
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
  }
  let buffered = ''
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    for (let i = buffered.indexOf('\n'); i !== -1; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i)
      buffered = buffered.slice(i + 1)
      try {
        child.lines.push(JSON.parse(line))
      } catch {
        child.stderr += `(stdout) ${line}\n`
      }
    }
  })
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    child.stderr = (child.stderr + chunk).slice(-4000)
  })
  return child
}

async function waitFor(child: Child, type: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!child.lines.some((l) => l.type === type)) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`worker exited before '${type}':\n${child.stderr}`)
    }
    if (Date.now() > deadline)
      throw new Error(`no '${type}' from a worker in ${timeoutMs} ms:\n${child.stderr}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Run the fleet for `durationMs` and return the merged history. Workers are killed whatever happens. */
export async function runFleet(o: FleetOptions): Promise<FleetRun> {
  const dir = mkdtempSync(join(tmpdir(), 'herdless-consistency-'))
  const prefix = uniquePrefix()
  const n = o.workers ?? 4
  const weights = { ...WEIGHTS, ...o.weights }
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  const children: Child[] = []
  try {
    for (let id = 0; id < n; id++) {
      children.push(
        start({
          id,
          core: o.core ?? (process.env.CONSISTENCY_CORE || CORE_DIST),
          redis: o.redis,
          db: o.db,
          prefix,
          seed: (o.seed * 7919 + id * 104_729) >>> 0,
          durationMs: o.durationMs,
          concurrency: o.concurrency ?? 3,
          keys: KEYS,
          cold: COLD,
          coldShare: 0.05,
          tags: TAGS,
          patterns: PATTERNS,
          weights: { ...weights, total },
          loaderMaxMs: o.loaderMaxMs ?? 150,
          loaderFailRate: o.loaderFailRate ?? 0.1,
          pauseMaxMs: o.pauseMaxMs ?? 20,
          sharded: o.sharded === true,
          out: join(dir, `p${id}.json`),
        }),
      )
    }
    await Promise.all(children.map((c) => waitFor(c, 'ready', 30_000)))
    const t0 = clock()
    for (const c of children) c.proc.stdin?.write('go\n')
    const faults = o.faults ? await o.faults() : []
    if (o.faults) for (const c of children) c.proc.stdin?.write('stop\n')
    await Promise.all(children.map((c) => waitFor(c, 'done', o.durationMs + 60_000)))
    const ops: Op[] = []
    const counts: FleetRun['counts'] = []
    for (let id = 0; id < n; id++) {
      const r = JSON.parse(readFileSync(join(dir, `p${id}.json`), 'utf8')) as {
        history: Op[]
        counts: FleetRun['counts'][number]
      }
      for (const op of r.history) ops.push(op)
      counts.push(r.counts)
    }
    return { ops, faults, counts, t0 }
  } finally {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    await Promise.all(children.map((c) => c.exited))
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The checker's verdict on a run, and a printable report (seed, counts, the first violations). */
export function verdict(
  run: FleetRun,
  label: string,
  options: CheckOptions = {},
): { result: CheckResult; text: string } {
  const tagWindowMs = Number(process.env.CONSISTENCY_TAG_WINDOW_MS ?? 0)
  const result = check(run.ops, {
    tagWindowMs,
    ...options,
    faults: [...(options.faults ?? []), ...run.faults],
  })
  const s = result.stats
  const fenced = run.counts.reduce((a, c) => a + c.fenced, 0)
  const written = run.counts.reduce((a, c) => a + c.written, 0)
  const reconnects = run.counts.reduce((a, c) => a + c.busReconnected, 0)
  const lines = [
    `[consistency] ${label}: ${s.ops} ops, ${s.reads} reads (${s.readErrors} failed) by source ${JSON.stringify(s.bySource)}`,
    `  invalidations ${s.invalidations} (${s.unsure} unsure), loads ${s.loads} (${s.loadsFailed} threw), writes ${written} stored / ${fenced} fenced, bus reconnects ${reconnects}`,
    `  checked reads ${s.checked}, late old loads ${s.lateOldLoads}, racy reads ${s.racyReads}, unchecked by a failed tag lookup ${s.tagsUnchecked}`,
    `  rule 5: ${s.epochs} quiet intervals, loads per interval ${JSON.stringify(s.loadsPerEpoch)}, over the bound ${s.epochsOverBound.length}`,
    `  violations: ${result.violations.length} (rule 1: ${result.violations.filter((v) => v.rule === 1).length}, rule 3: ${result.violations.filter((v) => v.rule === 3).length}) after ${JSON.stringify(byType(result))}`,
  ]
  if (run.faults.length > 0) {
    const names = new Map<string, number[]>()
    for (const f of run.faults) names.set(f.name, [...(names.get(f.name) ?? []), f.end - f.start])
    const each = [...names].map(
      ([name, ms]) => `${name} x${ms.length} (longest ${Math.round(Math.max(...ms))} ms)`,
    )
    lines.push(`  faults: ${each.join(', ')}`)
  }
  // The first two of each kind (invalidation type x read source), at most 12 in all.
  const shown = new Map<string, number>()
  let printed = 0
  for (const v of result.violations) {
    const kind = `${v.invalidation.type}/${v.read.source}`
    if ((shown.get(kind) ?? 0) >= 2 || printed >= 12) continue
    shown.set(kind, (shown.get(kind) ?? 0) + 1)
    printed++
    lines.push(formatViolation(v, run.ops, run.t0))
  }
  for (const e of s.epochsOverBound.slice(0, 3)) lines.push(formatEpoch(e, run.ops, run.t0))
  if (result.violations.length > 0 || s.epochsOverBound.length > 0) {
    // The whole history, for a closer look (times are ms since the epoch; t0 is the start).
    const file = join(tmpdir(), `herdless-consistency-${label.replace(/\W+/g, '-')}.json`)
    writeFileSync(file, JSON.stringify({ t0: run.t0, faults: run.faults, counts: run.counts, ops: run.ops }))
    lines.push(`  history: ${file}`)
  }
  return { result, text: lines.join('\n') }
}

function byType(result: CheckResult): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of result.violations) out[v.invalidation.type] = (out[v.invalidation.type] ?? 0) + 1
  return out
}

/** CONSISTENCY_SEED (reproduce one run) or random seeds; CONSISTENCY_MS per seed. */
export function seeds(count: number): number[] {
  const fixed = process.env.CONSISTENCY_SEED
  if (fixed !== undefined && fixed !== '') return [Number(fixed)]
  return Array.from({ length: count }, () => Math.floor(Math.random() * 2 ** 31))
}
