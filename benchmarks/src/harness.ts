import { performance } from 'node:perf_hooks'

/**
 * A closed-loop load driver: `concurrency` callers, each awaiting one call after another, for
 * a fixed time. Throughput is calls / wall time; latency is per call (every call, or one in
 * `sampleEvery` when the call costs about as much as the timer: L1 hits).
 *
 * Why not tinybench/mitata directly: both time one iteration at a time (tinybench 5's
 * `concurrency: 'task'` times each call but derives throughput from latency, not wall time, and
 * spins in a synchronous loop until `iterations` calls are queued; mitata's concurrency times a
 * Promise.all batch, a barrier no real server has). "100 callers in flight" needs a driver
 * whose throughput is measured on the wall clock, so this file is that driver, and
 * `runRounds` adds warm-up, interleaved rounds and medians.
 */
export interface LoopOptions {
  concurrency: number
  durationMs: number
  /** Time one call in this many (1 = every call). */
  sampleEvery: number
}

export interface LoopResult {
  ops: number
  errors: number
  elapsedMs: number
  opsPerSec: number
  /** CPU time (user + system) of this process per call, µs: the client's cost, Redis excluded. */
  cpuUsPerOp: number
  /** Sampled latencies in microseconds, unsorted. */
  latencyUs: Float64Array
}

export type Call = (caller: number, iteration: number) => Promise<unknown>

export async function closedLoop(call: Call, o: LoopOptions): Promise<LoopResult> {
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const deadline = started + o.durationMs
  const sampleEvery = Math.max(1, Math.floor(o.sampleEvery))
  let ops = 0
  let errors = 0
  let stop = false
  const samples: number[] = []
  const worker = async (caller: number): Promise<void> => {
    let i = 0
    // Offset callers so their timed calls do not line up.
    let untilSample = caller % sampleEvery
    while (!stop) {
      if (untilSample === 0) {
        untilSample = sampleEvery
        const t0 = performance.now()
        try {
          await call(caller, i)
        } catch {
          errors++
        }
        const t1 = performance.now()
        samples.push((t1 - t0) * 1000)
        if (t1 >= deadline) stop = true
      } else {
        try {
          await call(caller, i)
        } catch {
          errors++
        }
        // A run of microtask-only calls never lets a timer fire: check the clock inline.
        if ((i & 63) === 63 && performance.now() >= deadline) stop = true
      }
      untilSample--
      i++
      ops++
    }
  }
  const workers: Promise<void>[] = []
  for (let c = 0; c < o.concurrency; c++) workers.push(worker(c))
  await Promise.all(workers)
  const elapsedMs = performance.now() - started
  const cpu = process.cpuUsage(cpu0)
  return {
    ops,
    errors,
    cpuUsPerOp: (cpu.user + cpu.system) / Math.max(1, ops),
    elapsedMs,
    opsPerSec: (ops / elapsedMs) * 1000,
    latencyUs: Float64Array.from(samples),
  }
}

/** Linear-interpolated quantile of a sorted array (q in 0..1). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const pos = (n - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.min(n - 1, lo + 1)
  const a = sorted[lo] ?? Number.NaN
  const b = sorted[hi] ?? Number.NaN
  return a + (b - a) * (pos - lo)
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

export interface RoundStats {
  opsPerSec: number
  cpuUsPerOp: number
  p50Us: number
  p99Us: number
  errors: number
}

/** Medians over rounds, plus the spread of throughput between the best and worst round. */
export interface Measured {
  opsPerSec: number
  minOpsPerSec: number
  maxOpsPerSec: number
  p50Us: number
  p99Us: number
  /** Median over rounds of the client process's CPU per call (µs). */
  cpuUsPerOp: number
  errors: number
  rounds: number
  /** ops/s of each round, in round order (contenders alternate within a round). */
  perRound: number[]
}

/**
 * Throughput relative to a baseline: the median of the per-round ratios. Each round runs every
 * contender back to back, so a ratio within a round compares like conditions; its median is
 * steadier on a shared machine than a ratio of medians.
 */
export function pairedRatio(m: Measured | undefined, base: Measured | undefined): number {
  if (m === undefined || base === undefined) return Number.NaN
  const n = Math.min(m.perRound.length, base.perRound.length)
  const ratios: number[] = []
  for (let i = 0; i < n; i++) ratios.push((m.perRound[i] ?? Number.NaN) / (base.perRound[i] ?? Number.NaN))
  return ratios.length === 0 ? Number.NaN : median(ratios)
}

export function summarizeRounds(rounds: readonly RoundStats[]): Measured {
  const ops = rounds.map((r) => r.opsPerSec)
  return {
    opsPerSec: median(ops),
    minOpsPerSec: Math.min(...ops),
    maxOpsPerSec: Math.max(...ops),
    p50Us: median(rounds.map((r) => r.p50Us)),
    p99Us: median(rounds.map((r) => r.p99Us)),
    cpuUsPerOp: median(rounds.map((r) => r.cpuUsPerOp)),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    rounds: rounds.length,
    perRound: ops,
  }
}

export function roundStats(r: LoopResult): RoundStats {
  const sorted = r.latencyUs.slice().sort()
  return {
    opsPerSec: r.opsPerSec,
    cpuUsPerOp: r.cpuUsPerOp,
    p50Us: quantile(sorted, 0.5),
    p99Us: quantile(sorted, 0.99),
    errors: r.errors,
  }
}

export interface RoundPlan {
  warmupMs: number
  roundMs: number
  rounds: number
  concurrency: number
  sampleEvery: number
  /** Run before every measured run, outside the clock (e.g. FLUSHALL between miss rounds). */
  between?: () => Promise<unknown>
}

/**
 * Warm each contender up, then run `rounds` rounds in which every contender runs once, in an
 * order rotated each round, so drift on a shared machine (other load, thermal, GC) spreads
 * over all of them instead of landing on whoever ran last.
 */
export async function runRounds(
  entries: ReadonlyArray<{ name: string; call: Call }>,
  plan: RoundPlan,
  log: (line: string) => void,
): Promise<Map<string, Measured>> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (const e of entries) {
    await closedLoop(e.call, { concurrency: plan.concurrency, durationMs: plan.warmupMs, sampleEvery: 1_000 })
  }
  const per = new Map<string, RoundStats[]>(entries.map((e) => [e.name, []]))
  for (let r = 0; r < plan.rounds; r++) {
    for (let j = 0; j < entries.length; j++) {
      const e = entries[(j + r) % entries.length]
      if (e === undefined) continue
      await plan.between?.()
      gc?.()
      const res = await closedLoop(e.call, {
        concurrency: plan.concurrency,
        durationMs: plan.roundMs,
        sampleEvery: plan.sampleEvery,
      })
      const s = roundStats(res)
      per.get(e.name)?.push(s)
      log(
        `    round ${r + 1}/${plan.rounds} ${e.name.padEnd(48)} ${Math.round(s.opsPerSec).toLocaleString('en-US').padStart(11)} ops/s  cpu/call ${s.cpuUsPerOp.toFixed(2)} us  p50 ${s.p50Us.toFixed(1)} us  p99 ${s.p99Us.toFixed(1)} us${s.errors > 0 ? `  errors ${s.errors}` : ''}`,
      )
    }
  }
  const out = new Map<string, Measured>()
  for (const [name, rounds] of per) out.set(name, summarizeRounds(rounds))
  return out
}
