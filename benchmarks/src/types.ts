import type { Redis } from 'ioredis'

export type Mode = 'quick' | 'full'

/** Everything a scenario needs from the runner. */
export interface BenchContext {
  mode: Mode
  /** redis://127.0.0.1:<port> of the bench's own redis-server. */
  url: string
  /** A plain client on that server for FLUSHALL, MEMORY USAGE, INFO. */
  admin: Redis
  /** Absolute path of benchmarks/. */
  benchDir: string
  log: (line: string) => void
}

/** One bar of the chart. */
export interface Bar {
  label: string
  value: number
  /** Text printed after the bar. */
  display: string
  role: 'baseline' | 'herdless' | 'other'
}

export interface Target {
  text: string
  met: boolean
  detail: string
}

/** What a scenario hands the report: its table (already formatted), chart bars and configuration. */
export interface ScenarioResult {
  id: string
  title: string
  /** What was measured, in a sentence or two. */
  description: string
  columns: string[]
  rows: string[][]
  chart: { title: string; unit: string; bars: Bar[] }
  /** Row label → exact configuration. */
  configs: Array<{ label: string; config: string }>
  notes: string[]
  targets: Target[]
  /** Raw numbers for results JSON (and the README headline). */
  data: Record<string, unknown>
  /** For the README headline: contender → short cell text. */
  headline: { metric: string; cells: Record<string, string> }
}

export const fmtInt = (n: number): string =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'

export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a'
  if (us >= 10_000) return `${(us / 1000).toFixed(0)} ms`
  if (us >= 1_000) return `${(us / 1000).toFixed(1)} ms`
  if (us >= 10) return `${us.toFixed(0)} µs`
  return `${us.toFixed(1)} µs`
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${(r * 100).toFixed(0)}%` : 'n/a'
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return 'n/a'
  return `${Math.round(b).toLocaleString('en-US')} B`
}
