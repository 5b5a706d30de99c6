import { startCluster } from '@herdless/test-utils'
import { type Contender, type ContenderId, createContender, type Setup } from '../contenders'
import { type Call, type Measured, pairedRatio, runRounds } from '../harness'
import type { Plan } from '../plan'
import {
  type Bar,
  type BenchContext,
  fmtInt,
  fmtRatio,
  fmtUs,
  type ScenarioResult,
  type Target,
} from '../types'
import { isProfile, makeValue } from '../value'

const HOUR = 3_600_000

interface Row {
  contender: Contender
  /** Loader calls seen during the run (a hit scenario must see none). */
  loads: number
  /** Calls made (miss + fill: every call is for a new key). */
  calls?: number
  measured?: Measured
}

function baseSetup(ctx: BenchContext, id: ContenderId, tier: 'l1' | 'l2', l1Max: number): Setup {
  return { url: ctx.url, tier, ttlMs: HOUR, staleMs: HOUR, l1Max, prefix: id }
}

function throughputTable(
  rows: readonly Row[],
  countLoads: boolean,
): { columns: string[]; table: string[][]; bars: Bar[] } {
  const baseline = rows[0]
  const table: string[][] = []
  const bars: Bar[] = []
  for (const r of rows) {
    const m = r.measured
    if (m === undefined) continue
    const spread = m.opsPerSec > 0 ? (m.maxOpsPerSec - m.minOpsPerSec) / m.opsPerSec : Number.NaN
    table.push([
      r === baseline ? `${r.contender.label} (baseline)` : r.contender.label,
      fmtInt(m.opsPerSec),
      `±${(spread * 50).toFixed(0)}%`,
      fmtUs(m.p50Us),
      fmtUs(m.p99Us),
      fmtRatio(pairedRatio(m, baseline?.measured)),
      fmtCpu(m.cpuUsPerOp),
      String((countLoads ? r.loads : 0) + m.errors),
    ])
    bars.push({
      label: r.contender.label,
      value: m.opsPerSec,
      display: `${fmtInt(m.opsPerSec)} ops/s (${fmtRatio(pairedRatio(m, baseline?.measured))})`,
      role: r === baseline ? 'baseline' : r.contender.id === 'herdless' ? 'herdless' : 'other',
    })
  }
  return {
    columns: [
      'contender',
      'ops/s (median)',
      'spread',
      'p50',
      'p99',
      'vs baseline (paired)',
      'client CPU / call',
      countLoads ? 'misses + errors' : 'errors',
    ],
    table,
    bars,
  }
}

function fmtCpu(us: number): string {
  if (!Number.isFinite(us)) return 'n/a'
  return us >= 10 ? `${us.toFixed(1)} µs` : `${us.toFixed(2)} µs`
}

function keyRing(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}:${i}`)
}

/**
 * Caller c only ever touches keys c, c+C, c+2C, ...: at any moment the C calls in flight are
 * for C different keys, so no library's in-process coalescing turns 100 reads into one.
 */
function hitCall(c: Contender, keys: readonly string[], concurrency: number, row: Row): Call {
  const perCaller = Math.floor(keys.length / concurrency)
  const loader = () => {
    row.loads++
    return makeValue(-1)
  }
  return (caller, i) => c.getOrSet(keys[caller + concurrency * (i % perCaller)] as string, loader)
}

async function warm(c: Contender, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((k, j) => c.set(k, makeValue(i + j))))
  }
  // One read of each key: libraries that fill their L1 on read do it now.
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((k) => c.getOrSet(k, () => makeValue(-1))))
  }
  const v = await c.getOrSet(keys[7] as string, () => makeValue(-1))
  if (!isProfile(v, 7)) throw new Error(`${c.label}: warm key read back wrong: ${JSON.stringify(v)}`)
}

/** Warm every row's keys, then count loads from zero. */
async function warmAll(rows: readonly Row[], keys: readonly string[]): Promise<void> {
  for (const r of rows) await warm(r.contender, keys)
  for (const r of rows) r.loads = 0
}

/** Hits on warm keys in alternating rounds (hitCall); each row gets its measurement. */
async function measureHits(
  ctx: BenchContext,
  plan: Plan,
  rows: Row[],
  keys: readonly string[],
  sampleEvery: number,
): Promise<void> {
  const measured = await runRounds(
    rows.map((r) => ({ name: r.contender.label, call: hitCall(r.contender, keys, plan.concurrency, r) })),
    { ...plan, sampleEvery },
    ctx.log,
  )
  for (const r of rows) r.measured = measured.get(r.contender.label)
}

async function closeAll(rows: readonly Row[]): Promise<void> {
  await Promise.allSettled(rows.map((r) => r.contender.close()))
}

/** 1. L2 hit: warm keys, no L1, 100 callers; baseline raw GET + msgpackr unpack. */
export async function l2Hit(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  await ctx.admin.flushall()
  const ids: ContenderId[] = ['raw', 'herdless', 'herdless-node-redis', 'bentocache', 'cache-manager']
  const rows: Row[] = []
  try {
    for (const id of ids)
      rows.push({ contender: await createContender(id, baseSetup(ctx, id, 'l2', 10_000)), loads: 0 })
    const keys = keyRing(plan.hotKeys, 'user')
    await warmAll(rows, keys)
    await measureHits(ctx, plan, rows, keys, 1)
  } finally {
    await closeAll(rows)
  }
  const [baseline, herdless, , bento] = rows as [Row, Row, Row, Row, Row]
  const { columns, table, bars } = throughputTable(rows, true)
  const ratio = pairedRatio(herdless.measured, baseline.measured)
  const targets: Target[] = [
    {
      text: 'Herdless L2 hit ≥ 90% of raw GET + unpack, default options (bus on)',
      met: ratio >= 0.9,
      detail: `${fmtRatio(ratio)} of baseline throughput (median of per-round ratios)`,
    },
  ]
  return {
    id: 'l2-hit',
    title: '1. L2 hit (Redis, no L1), 100 concurrent callers',
    description: `getOrSet on ${plan.hotKeys.toLocaleString('en-US')} warm keys of a ~1 KB object; 100 callers in a closed loop, each on its own subset of keys (no two calls in flight share a key, so in-process coalescing cannot merge them). Baseline: ioredis getBuffer + msgpackr unpack, nothing else.`,
    columns,
    rows: table,
    chart: { title: '1. L2 hit, ops/s', unit: 'ops/s', bars },
    configs: rows.map((r) => ({ label: r.contender.label, config: r.contender.config })),
    notes: [`BentoCache is ${fmtRatio(pairedRatio(bento.measured, baseline.measured))} of baseline here.`],
    targets,
    data: Object.fromEntries(rows.map((r) => [r.contender.id, r.measured])),
    headline: {
      metric: 'L2 hit, ops/s (100 callers)',
      cells: Object.fromEntries(
        rows.map((r) => [
          r.contender.id,
          `${fmtInt(r.measured?.opsPerSec ?? Number.NaN)} (${fmtRatio(pairedRatio(r.measured, baseline.measured))})`,
        ]),
      ),
    },
  }
}

/**
 * 1b. L2 hit on a 3+3 Redis Cluster (its own, started here): warm keys, no L1, 100 callers;
 * baseline raw ioredis Cluster GET + unpack WITH auto-pipelining (issue 21).
 */
export async function l2HitCluster(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  const ids: ContenderId[] = ['raw-cluster', 'herdless-cluster', 'raw-cluster-plain']
  const rows: Row[] = []
  ctx.log('    starting a 3+3 cluster')
  const cluster = await startCluster()
  try {
    for (const id of ids)
      rows.push({
        contender: await createContender(id, {
          ...baseSetup(ctx, id, 'l2', 10_000),
          cluster: cluster.startupNodes,
        }),
        loads: 0,
      })
    const keys = keyRing(plan.hotKeys, 'user')
    await warmAll(rows, keys)
    await measureHits(ctx, plan, rows, keys, 1)
  } finally {
    await closeAll(rows)
    await cluster.stop()
  }
  const [baseline, herdless, plain] = rows as [Row, Row, Row]
  const { columns, table, bars } = throughputTable(rows, true)
  const ratio = pairedRatio(herdless.measured, baseline.measured)
  const hCpu = herdless.measured?.cpuUsPerOp ?? Number.NaN
  const bCpu = baseline.measured?.cpuUsPerOp ?? Number.NaN
  return {
    id: 'l2-hit-cluster',
    title: '1b. L2 hit on a 3+3 Redis Cluster (no L1), 100 concurrent callers',
    description: `getOrSet on ${plan.hotKeys.toLocaleString('en-US')} warm keys of a ~1 KB object spread over the slots of a 3-primary, 3-replica cluster on loopback (started by the bench); same 100-caller closed loop. Baseline: ioredis Cluster getBuffer + msgpackr unpack with enableAutoPipelining: true, the fastest a bare client gets; the same without auto-pipelining for reference.`,
    columns,
    rows: table,
    chart: { title: '1b. L2 hit on a cluster, ops/s', unit: 'ops/s', bars },
    configs: rows.map((r) => ({ label: r.contender.label, config: r.contender.config })),
    notes: [
      `The cluster's six redis-servers share the machine's cores with the client here, so absolute numbers are lower than on the single server; the ratios are what the target is about.`,
      `ioredis Cluster without auto-pipelining is ${fmtRatio(pairedRatio(plain.measured, baseline.measured))} of baseline here.`,
    ],
    targets: [
      {
        text: 'Herdless L2 hit on a 3+3 cluster ≥ 85% of raw ioredis Cluster GET + unpack with auto-pipelining, default options',
        met: ratio >= 0.85 && herdless.loads === 0 && (herdless.measured?.errors ?? 1) === 0,
        detail: `${fmtRatio(ratio)} of baseline throughput; client CPU per call ${fmtCpu(hCpu)} vs ${fmtCpu(bCpu)}; ${herdless.loads} misses, ${herdless.measured?.errors ?? 'n/a'} errors`,
      },
    ],
    data: Object.fromEntries(rows.map((r) => [r.contender.id, r.measured])),
    headline: {
      metric: 'L2 hit on a 3+3 cluster, ops/s (100 callers)',
      cells: {
        raw: `${fmtInt(baseline.measured?.opsPerSec ?? Number.NaN)} (100%)`,
        herdless: `${fmtInt(herdless.measured?.opsPerSec ?? Number.NaN)} (${fmtRatio(ratio)})`,
      },
    },
  }
}

/** 2. L1 hit: warm keys in the in-process tier; baseline a bare lru-cache get. */
export async function l1Hit(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  await ctx.admin.flushall()
  const ids: ContenderId[] = [
    'lru',
    'herdless',
    'herdless-ns',
    'bentocache',
    'bentocache-defaults',
    'cache-manager',
    'cache-manager-defaults',
  ]
  const rows: Row[] = []
  let herdlessTier = 'unknown'
  try {
    for (const id of ids)
      rows.push({ contender: await createContender(id, baseSetup(ctx, id, 'l1', 10_000)), loads: 0 })
    const keys = keyRing(plan.hotKeys, 'user')
    await warmAll(rows, keys)
    const h = rows[1]?.contender
    herdlessTier = (await h?.hitTier?.(keys[3] as string)) ?? 'unknown'
    // An L1 hit costs about as much as reading the clock: time one call in 32.
    await measureHits(ctx, plan, rows, keys, 32)
  } finally {
    await closeAll(rows)
  }
  const [baseline, herdless, herdlessNs, bento, bentoDefaults] = rows as [Row, Row, Row, Row, Row, Row, Row]
  const nsRatio = pairedRatio(herdlessNs.measured, baseline.measured)
  const { columns, table, bars } = throughputTable(rows, true)
  const hOps = herdless.measured?.opsPerSec ?? 0
  const ratio = pairedRatio(herdless.measured, baseline.measured)
  const bestBento = Math.max(bento.measured?.opsPerSec ?? 0, bentoDefaults.measured?.opsPerSec ?? 0)
  const notes: string[] = [
    `p50/p99 are from one call in 32 (timing every call would cost as much as the call).`,
    `Herdless answered the probe hit from tier \`${herdlessTier}\`${herdlessTier === 'l1' ? '' : ' — its L1 was NOT serving hits in this build, so this row measures an L2 round trip'}.`,
    "BentoCache `serialize: false` is the like-for-like setting (objects in memory, as Herdless keeps them); its default (`serialize: true`) stores JSON and parses it on every L1 hit. Note: BentoCache 1.6.1 with `serialize: false` throws `TypeError: Cannot read properties of undefined (reading 'deserialize')` on the second read of a key whose L1 copy came from an L2 hit (Julien-R44/bentocache#111, fix in PR #113, unreleased); here every process warms its own keys with set(), which avoids that path.",
  ]
  return {
    id: 'l1-hit',
    title: '2. L1 hit (in-process tier), 100 concurrent callers',
    description: `getOrSet on ${plan.hotKeys.toLocaleString('en-US')} keys already in each library's in-process tier (Redis behind it, unused on a hit); same 100-caller closed loop. Baseline: a bare lru-cache get behind an async function.`,
    columns,
    rows: table,
    chart: { title: '2. L1 hit, ops/s', unit: 'ops/s', bars },
    configs: rows.map((r) => ({ label: r.contender.label, config: r.contender.config })),
    notes,
    targets: [
      {
        text: 'Herdless L1 hit ≥ 80% of bare lru-cache get',
        met: ratio >= 0.8,
        detail: `${fmtRatio(ratio)} of baseline throughput; client CPU per call ${((herdless.measured?.cpuUsPerOp ?? Number.NaN) / (baseline.measured?.cpuUsPerOp ?? Number.NaN)).toFixed(2)}× the baseline's`,
      },
      {
        text: 'Herdless L1 hit in a namespace ≥ 80% of bare lru-cache get',
        met: nsRatio >= 0.8,
        detail: `${fmtRatio(nsRatio)} of baseline throughput; client CPU per call ${((herdlessNs.measured?.cpuUsPerOp ?? Number.NaN) / (baseline.measured?.cpuUsPerOp ?? Number.NaN)).toFixed(2)}× the baseline's`,
      },
      {
        text: 'Herdless L1 hit above BentoCache',
        met: hOps > bestBento,
        detail: `${fmtInt(hOps)} vs ${fmtInt(bestBento)} ops/s (BentoCache's better row)`,
      },
    ],
    data: { herdlessTier, ...Object.fromEntries(rows.map((r) => [r.contender.id, r.measured])) },
    headline: {
      metric: 'L1 hit, ops/s (100 callers); Herdless root / namespaced',
      cells: {
        ...Object.fromEntries(
          rows.map((r) => [
            r.contender.id,
            `${fmtInt(r.measured?.opsPerSec ?? Number.NaN)} (${fmtRatio(pairedRatio(r.measured, baseline.measured))})`,
          ]),
        ),
        herdless: `${fmtInt(hOps)} (${fmtRatio(ratio)}) / ${fmtInt(herdlessNs.measured?.opsPerSec ?? Number.NaN)} (${fmtRatio(nsRatio)})`,
      },
    },
  }
}

/** 3. Miss + fill: every call a new key, instant loader, value written back to Redis. */
export async function missFill(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  await ctx.admin.flushall()
  const ids: ContenderId[] = ['raw', 'herdless', 'herdless-node-redis', 'bentocache', 'cache-manager']
  const rows: Row[] = []
  try {
    for (const id of ids)
      rows.push({ contender: await createContender(id, baseSetup(ctx, id, 'l2', 10_000)), loads: 0 })
    let seq = 0
    const entries = rows.map((r) => {
      const c = r.contender
      const loader = () => {
        r.loads++
        return makeValue(1)
      }
      const call: Call = () => {
        r.calls = (r.calls ?? 0) + 1
        return c.getOrSet(`miss:${seq++}`, loader)
      }
      return { name: c.label, call }
    })
    const measured = await runRounds(
      entries,
      { ...plan, sampleEvery: 1, between: () => ctx.admin.flushall() },
      ctx.log,
    )
    for (const r of rows) r.measured = measured.get(r.contender.label)
  } finally {
    await closeAll(rows)
    await ctx.admin.flushall()
  }
  const [baseline, herdless] = rows as [Row, Row]
  const { columns, table, bars } = throughputTable(rows, false)
  const ratio = pairedRatio(herdless.measured, baseline.measured)
  const calls = herdless.calls ?? Number.NaN
  return {
    id: 'miss-fill',
    title: '3. Miss + fill, 100 concurrent callers',
    description:
      'getOrSet on a key never seen before, with an instant (synchronous) loader: the read, whatever locking the library does, the loader and the write back to Redis. Baseline: naive cache-aside on ioredis (GET, then SET PX with msgpackr), no lock.',
    columns,
    rows: table,
    chart: { title: '3. Miss + fill, ops/s', unit: 'ops/s', bars },
    configs: rows.map((r) => ({ label: r.contender.label, config: r.contender.config })),
    notes: [
      "Herdless takes the fleet-wide lease on every miss: GET (miss), one read-or-lock script (the entry if someone wrote it meanwhile, else the lease), the loader, one write script (stores the value only while the lease is intact, and frees it): three commands, two of them Lua, where the baseline sends two plain ones. That is the price of scenario 4's single loader call.",
    ],
    targets: [
      {
        text: 'Herdless miss + fill ≥ 85% of naive cache-aside (GET, SET PX)',
        met: ratio >= 0.85,
        detail: `${fmtRatio(ratio)} of baseline throughput; client CPU per call ${fmtCpu(herdless.measured?.cpuUsPerOp ?? Number.NaN)} vs ${fmtCpu(baseline.measured?.cpuUsPerOp ?? Number.NaN)}`,
      },
      {
        text: 'Herdless miss + fill: one loader call per key',
        met: herdless.loads === calls,
        detail: `${fmtInt(herdless.loads)} loader calls for ${fmtInt(calls)} calls on new keys`,
      },
    ],
    data: Object.fromEntries(rows.map((r) => [r.contender.id, r.measured])),
    headline: {
      metric: 'Miss + fill, ops/s',
      cells: Object.fromEntries(
        rows.map((r) => [
          r.contender.id,
          `${fmtInt(r.measured?.opsPerSec ?? Number.NaN)} (${fmtRatio(pairedRatio(r.measured, baseline.measured))})`,
        ]),
      ),
    },
  }
}
