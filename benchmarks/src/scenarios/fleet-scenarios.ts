import { type ContenderId, label, type Setup } from '../contenders'
import { Fleet } from '../fleet'
import type { ExpiringResult, StampedeResult } from '../fleet-protocol'
import { median, quantile } from '../harness'
import type { Plan } from '../plan'
import { type Bar, type BenchContext, fmtInt, fmtMs, type ScenarioResult } from '../types'

const HOUR = 3_600_000

interface FleetRow {
  id: ContenderId
  tier: 'l1' | 'l2'
  label: string
}

/** Every library in its Redis-only form, plus Herdless with its L1 + bus (waiters woken by Pub/Sub). */
function fleetRows(): FleetRow[] {
  return [
    { id: 'raw', tier: 'l2', label: 'ioredis + msgpackr, naive cache-aside (no protection)' },
    { id: 'herdless', tier: 'l2', label: 'Herdless' },
    { id: 'herdless', tier: 'l1', label: 'Herdless (l1 + bus)' },
    { id: 'bentocache', tier: 'l2', label: label('bentocache') },
    { id: 'cache-manager', tier: 'l2', label: label('cache-manager') },
  ]
}

function role(r: FleetRow, i: number): Bar['role'] {
  return i === 0 ? 'baseline' : r.id === 'herdless' ? 'herdless' : 'other'
}

/** Build the row's contender in every worker; the configuration text comes back from the first. */
async function setupAll(fleet: Fleet, row: FleetRow, setup: Setup): Promise<string> {
  const replies = await fleet.all<{ config: string }>({ type: 'setup', contender: row.id, setup })
  return replies[0]?.config ?? ''
}

/** 4. Cold-key stampede: P processes × C callers on one key nobody has, loader of L ms. */
export async function coldStampede(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  const p = plan.stampede
  await ctx.admin.flushall()
  const fleet = await Fleet.start(p.processes, ctx.benchDir)
  const rows = fleetRows()
  const results: Array<{
    row: FleetRow
    loads: number[]
    p50: number[]
    p99: number[]
    max: number[]
    errors: number
  }> = []
  const configs: Array<{ label: string; config: string }> = []
  try {
    for (const [ri, row] of rows.entries()) {
      const setup: Setup = {
        url: ctx.url,
        tier: row.tier,
        ttlMs: HOUR,
        staleMs: HOUR,
        l1Max: 10_000,
        prefix: `st${ri}`,
      }
      configs.push({ label: row.label, config: await setupAll(fleet, row, setup) })
      const acc = {
        row,
        loads: [] as number[],
        p50: [] as number[],
        p99: [] as number[],
        max: [] as number[],
        errors: 0,
      }
      for (let round = 0; round < p.rounds; round++) {
        const res = await fleet.all<StampedeResult>({
          type: 'stampede',
          key: `cold:${round}`,
          callers: p.callers,
          loaderMs: p.loaderMs,
          at: Date.now() + 150,
        })
        const lat = res.flatMap((r) => r.latenciesMs).sort((a, b) => a - b)
        const loads = res.reduce((a, r) => a + r.loaderCalls, 0)
        acc.loads.push(loads)
        acc.p50.push(quantile(lat, 0.5))
        acc.p99.push(quantile(lat, 0.99))
        acc.max.push(lat[lat.length - 1] ?? Number.NaN)
        acc.errors += res.reduce((a, r) => a + r.errors + r.wrong, 0)
        ctx.log(
          `    round ${round + 1}/${p.rounds} ${row.label.padEnd(56)} loader calls ${String(loads).padStart(4)}  p99 ${fmtMs(quantile(lat, 0.99))}`,
        )
      }
      results.push(acc)
      await fleet.all({ type: 'teardown' })
    }
  } finally {
    await fleet.close()
  }
  const total = p.processes * p.callers
  const table = results.map((r) => [
    r.row.label,
    `${fmtInt(median(r.loads))} (${Math.min(...r.loads)}–${Math.max(...r.loads)})`,
    fmtMs(median(r.p50)),
    fmtMs(median(r.p99)),
    fmtMs(median(r.max)),
    String(r.errors),
  ])
  const bars: Bar[] = results.map((r, i) => ({
    label: r.row.label,
    value: median(r.loads),
    display: `${fmtInt(median(r.loads))} loader call${median(r.loads) === 1 ? '' : 's'}, p99 ${fmtMs(median(r.p99))}`,
    role: role(r.row, i),
  }))
  const herdless = results[1]
  return {
    id: 'cold-stampede',
    title: `4. Cold-key stampede: ${p.processes} processes × ${p.callers} callers, ${p.loaderMs} ms loader`,
    description: `${total.toLocaleString('en-US')} calls for one key nobody has, fired at the same instant from ${p.processes} worker processes on one Redis; the loader sleeps ${p.loaderMs} ms. Loader calls are summed over the processes (ideal: 1); latencies are per call over all processes. Medians of ${p.rounds} rounds, each on a fresh key (min–max of loader calls in brackets).`,
    columns: ['contender', 'loader calls', 'p50', 'p99', 'max', 'errors + wrong values'],
    rows: table,
    chart: { title: '4. Cold-key stampede, loader calls (lower is better)', unit: 'calls', bars },
    configs,
    notes: [
      "BentoCache and cache-manager coalesce concurrent calls inside one process only, so the best they can do is one loader call per process; Herdless adds a fleet-wide lock (SET NX on the entry's slot), so the other processes wait for the one load.",
      'Herdless waiters without the bus re-read Redis on a backoff (20 ms doubling to 400 ms), so their p99 is the loader time plus up to one poll step; with L1 on, the bus is on and a write wakes them.',
    ],
    targets: [
      {
        text: `Herdless: one loader call per cold key across ${p.processes} processes`,
        met: herdless !== undefined && Math.max(...herdless.loads) === 1,
        detail: herdless === undefined ? 'n/a' : `loader calls per round: ${herdless.loads.join(', ')}`,
      },
      ...results
        .filter((r) => r.row.id === 'herdless')
        .map((r) => ({
          text: `${r.row.label}: waiter p99 overhead over the ${p.loaderMs} ms loader < 10 ms`,
          met: median(r.p99) - p.loaderMs < 10,
          detail: `p99 ${fmtMs(median(r.p99))} (+${fmtMs(median(r.p99) - p.loaderMs)}; per round ${r.p99.map((x) => fmtMs(x - p.loaderMs)).join(', ')})`,
        })),
    ],
    data: Object.fromEntries(
      results.map((r) => [
        r.row.label,
        { loads: r.loads, p50: r.p50, p99: r.p99, max: r.max, errors: r.errors },
      ]),
    ),
    headline: {
      metric: `Cold stampede, loader calls / p99 (over the ${p.loaderMs} ms loader) (${p.processes}×${p.callers})`,
      cells: Object.fromEntries(
        results
          .filter((r) => r.row.tier === 'l2')
          .map((r) => [
            r.row.id,
            `${fmtInt(median(r.loads))} / ${fmtMs(median(r.p99))} (+${fmtMs(median(r.p99) - p.loaderMs)})`,
          ]),
      ),
    },
  }
}

/** 5. Expiring hot key under steady load: recomputes per expiry, callers blocked. */
export async function expiringHotKey(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  const e = plan.expiring
  await ctx.admin.flushall()
  const fleet = await Fleet.start(e.processes, ctx.benchDir)
  const rows = fleetRows()
  const blockedMs = e.loaderMs / 2
  const windows = e.durationMs / e.ttlMs
  const results: Array<{
    row: FleetRow
    loads: number
    calls: number
    blocked: number
    stalled: number
    p50: number
    p99: number
    stall: number
    errors: number
  }> = []
  const configs: Array<{ label: string; config: string }> = []
  try {
    for (const [ri, row] of rows.entries()) {
      const setup: Setup = {
        url: ctx.url,
        tier: row.tier,
        ttlMs: e.ttlMs,
        staleMs: HOUR,
        l1Max: 10_000,
        prefix: `ex${ri}`,
        refreshThresholdMs: Math.round(e.ttlMs / 5),
      }
      configs.push({ label: row.label, config: await setupAll(fleet, row, setup) })
      // One process fills the key before the clock starts: the first load is not an expiry.
      await fleet.request(0, { type: 'fill', key: 'hot', loaderMs: e.loaderMs })
      const res = await fleet.all<ExpiringResult>({
        type: 'expiring',
        key: 'hot',
        callers: e.callersPerProcess,
        intervalMs: e.intervalMs,
        durationMs: e.durationMs,
        loaderMs: e.loaderMs,
        blockedMs,
        at: Date.now() + 200,
      })
      await fleet.all({ type: 'teardown' })
      const lat = res.flatMap((r) => r.latenciesMs).sort((a, b) => a - b)
      const r = {
        row,
        loads: res.reduce((a, x) => a + x.loaderCalls, 0),
        calls: res.reduce((a, x) => a + x.calls, 0),
        blocked: res.reduce((a, x) => a + x.blocked, 0),
        stalled: res.reduce((a, x) => a + x.stalled, 0),
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        stall: Math.max(...res.map((x) => x.maxStallMs)),
        errors: res.reduce((a, x) => a + x.errors + x.wrong, 0),
      }
      results.push(r)
      ctx.log(
        `    ${row.label.padEnd(56)} loader calls ${r.loads}  blocked ${r.blocked}/${r.calls}  p99 ${fmtMs(r.p99)}  slow in a stall ${r.stalled} (longest ${fmtMs(r.stall)})`,
      )
    }
  } finally {
    await fleet.close()
  }
  const table = results.map((r) => [
    r.row.label,
    (r.loads / windows).toFixed(1),
    `${fmtInt(r.blocked)} (${((r.blocked / Math.max(1, r.calls)) * 100).toFixed(2)}%)`,
    fmtInt(r.calls),
    fmtMs(r.p50),
    fmtMs(r.p99),
    `${fmtInt(r.stalled)} (longest stall ${r.stall > 0 ? fmtMs(r.stall) : 'none ≥ 20 ms'})`,
    String(r.errors),
  ])
  const bars: Bar[] = results.map((r, i) => ({
    label: r.row.label,
    value: r.loads / windows,
    display: `${(r.loads / windows).toFixed(1)} per TTL window, ${fmtInt(r.blocked)} blocked`,
    role: role(r.row, i),
  }))
  const herdless = results[1]
  return {
    id: 'expiring-hot-key',
    title: `5. Expiring hot key under steady load (${e.processes} processes × ${e.callersPerProcess} callers, ttl ${e.ttlMs} ms, ${e.loaderMs} ms loader)`,
    description: `One key with a ${e.ttlMs} ms TTL, read by ${e.processes * e.callersPerProcess} callers (${e.processes} processes × ${e.callersPerProcess}), each calling every ${e.intervalMs} ms for ${e.durationMs / 1000} s (${windows} TTL windows); the loader sleeps ${e.loaderMs} ms. A call is "blocked" when it took ${blockedMs} ms or more and no stall of its whole process (event loop held up ≥ 20 ms: a long GC, or the CPU busy with other work) overlapped it, i.e. it waited for a loader; slow calls during such a stall are counted apart.`,
    columns: [
      'contender',
      'recomputes per TTL window',
      'callers blocked on a loader',
      'calls',
      'p50',
      'p99',
      'slow calls during a process stall',
      'errors + wrong values',
    ],
    rows: table,
    chart: {
      title: '5. Expiring hot key, loader calls per TTL window (lower is better)',
      unit: 'recomputes',
      bars,
    },
    configs,
    notes: [
      `Herdless and BentoCache keep a stale copy (staleTtl / grace of 1 h) and serve it while one caller refreshes; Herdless also refreshes early (XFetch) and takes the fleet-wide lock for the refresh. cache-manager has no stale copy: its nearest feature, \`refreshThreshold: ${Math.round(e.ttlMs / 5)}\` (refresh in the background when less than ${Math.round(e.ttlMs / 5)} ms is left), is configured. The naive baseline simply misses on expiry.`,
    ],
    targets: [
      {
        text: 'Herdless: no caller blocked on a loader when a hot key expires',
        met: herdless !== undefined && herdless.blocked === 0,
        detail: herdless === undefined ? 'n/a' : `${herdless.blocked} blocked of ${herdless.calls}`,
      },
      ...results
        .filter((r) => r.row.id === 'herdless')
        .map((r) => ({
          text: `${r.row.label}: ≤ 1.1 recomputes per TTL window, 0 blocked`,
          met: r.loads / windows <= 1.1 && r.blocked === 0,
          detail: `${(r.loads / windows).toFixed(2)} per window (${r.loads} loads in ${windows} windows), ${r.blocked} blocked`,
        })),
    ],
    data: Object.fromEntries(results.map((r) => [r.row.label, { ...r, row: undefined, windows }])),
    headline: {
      metric: 'Expiring hot key, recomputes per TTL window / callers blocked',
      cells: Object.fromEntries(
        results
          .filter((r) => r.row.tier === 'l2')
          .map((r) => [r.row.id, `${(r.loads / windows).toFixed(1)} / ${fmtInt(r.blocked)}`]),
      ),
    },
  }
}
