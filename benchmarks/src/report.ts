import type { Machine, Versions } from './machine'
import type { Mode, ScenarioResult } from './types'

export interface ReportInput {
  mode: Mode
  machine: Machine
  versions: Versions
  durationS: number
  scenarios: ScenarioResult[]
  /** Scenario id → markdown summary of its CPU profile (only where Herdless missed a target). */
  profiles: Array<{ scenario: string; markdown: string }>
  /** Hand-written analysis (results/notes.md), appended verbatim. */
  notes: string
  svgFile: string
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

export function mdTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = `| ${columns.map(cell).join(' | ')} |`
  const sep = `|${columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`
  return [head, sep, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n')
}

/** The cross-scenario summary: one row per scenario, one column per library. */
export function headlineTable(scenarios: readonly ScenarioResult[]): string {
  const rows = scenarios.map((s) => {
    const c = s.headline.cells
    return [
      s.headline.metric,
      c.herdless ?? '—',
      c.raw ?? c.lru ?? '—',
      c.bentocache ?? '—',
      c['cache-manager'] ?? '—',
    ]
  })
  return mdTable(
    ['scenario', 'Herdless', 'baseline (raw ioredis / lru-cache)', 'BentoCache', 'cache-manager'],
    rows,
  )
}

export function targetsTable(scenarios: readonly ScenarioResult[]): string {
  const rows = scenarios.flatMap((s) =>
    s.targets.map((t) => [t.text, t.detail, t.met ? '✅ met' : '❌ missed']),
  )
  return mdTable(['target', 'measured', 'result'], rows)
}

export const FAIRNESS = `- **One Redis, one run.** Every number comes from the same private \`redis-server\` (started by the bench with the test harness, no persistence, loopback) in one run; contenders alternate within each round so background load on the machine lands on all of them.
- **Same payload, same TTLs.** A ~1 KB JSON-like object (strings, numbers, booleans, arrays, objects only, so every serializer round-trips it). Fresh TTL 1 h (1 s in scenario 5); where a library keeps a stale copy (Herdless \`staleTtl\`, BentoCache \`grace\`) it is 1 h for both.
- **Auto-pipelining for everyone who has it.** ioredis clients (raw, Herdless, BentoCache) run with \`enableAutoPipelining: true\`; @keyv/redis uses node-redis, which pipelines every command issued in one tick by design.
- **Serializer.** Herdless always uses msgpackr, and the raw baseline uses msgpackr with the same options. BentoCache's serializer contract returns strings and cache-manager's Redis store reads strings, so both use their default JSON; decoding 1 KB costs about the same either way (msgpackr unpack ≈ JSON.parse on this object), so this is a size difference more than a speed one.
- **In-process tiers hold objects.** Herdless's L1 hands out the cached object (\`clone: false\` by default). The like-for-like settings are BentoCache \`memoryDriver({ serialize: false })\` and cache-manager's CacheableMemory with \`useClone: false\` and Keyv's serializer off; each library's defaults (which serialize or clone per hit) are reported as separate rows.
- **No coalescing artefacts.** In the throughput scenarios each of the 100 callers owns its own subset of the 1,000 keys, so no two calls in flight ever share a key and no library can answer 100 calls with one Redis read.
- **Defaults otherwise.** Herdless runs with its defaults (jitter 0.1, XFetch early refresh, stale-while-revalidate, 250 ms Redis deadline and circuit breaker); the others run with theirs. The exact configuration of every row is printed under each scenario.
- **Closed loop.** Throughput = completed calls / wall time with 100 callers each awaiting its previous call; p50/p99 are per call, so with 100 calls in flight they are mostly queueing (latency ≈ 100 / throughput). ops/s is the median over rounds; "spread" is half the range between the best and worst round, relative to the median; "vs baseline (paired)" is the median of the per-round ratios (contender / baseline in the same round), which cancels most of the drift a shared machine adds. "client CPU / call" is the bench process's user + system CPU time during a round divided by its calls. For L1 hits (no I/O) that is the library's own cost. For Redis scenarios it also moves with the machine: on 2 cores redis-server shares the CPU with the client, and at lower throughput each auto-pipelined write carries fewer commands, so every call costs more syscalls; the L2-hit throughput ratio likewise swings from run to run. Use the CPU profiles (\`pnpm --filter @herdless/benchmarks profile l2-hit\`) to attribute a client's cost.`

/** Load above the core count at either end means other work shared the CPU with the bench. */
function busyWarning(m: Machine): string[] {
  const first = (s: string | undefined) => Number((s ?? '').split('/')[0])
  const peak = Math.max(first(m.loadAtStart), first(m.loadAtEnd))
  if (!(peak > m.cores)) return []
  return [
    `> **Busy machine:** the 1-minute load average reached ${peak.toFixed(2)} on ${m.cores} cores during this run, so other processes competed for the CPU. Ratios between contenders (which alternate within every round) hold up better than absolute ops/s.`,
    '',
  ]
}

export function renderReport(r: ReportInput): string {
  const m = r.machine
  const out: string[] = []
  out.push(
    `# Herdless benchmarks: ${r.mode === 'full' ? 'latest results' : 'quick run'}`,
    '',
    `Generated by \`pnpm bench${r.mode === 'quick' ? ' --quick' : ''}\` on ${m.date} in ${r.durationS.toFixed(0)} s. Regenerate rather than edit: the hand-written analysis lives in \`benchmarks/results/notes.md\` and is appended below.${r.mode === 'quick' ? ' **Quick mode: short rounds, smoke-test numbers only.**' : ''}`,
    '',
    ...busyWarning(m),
    '## Machine',
    '',
    mdTable(
      ['', ''],
      [
        ['CPU', m.cpu],
        ['cores', String(m.cores)],
        ['memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Node.js', m.node],
        ['Redis', `${m.redis} (private redis-server on loopback, no persistence)`],
        ['date', m.date],
        ['load average (1/5/15 min) at start', m.loadAtStart],
        ['load average at end', m.loadAtEnd ?? 'n/a'],
        ['Herdless commit', m.commit],
      ],
    ),
    '',
    '## Versions',
    '',
    mdTable(
      ['package', 'version'],
      Object.entries(r.versions).map(([k, v]) => [k, v]),
    ),
    '',
    '## Summary',
    '',
    headlineTable(r.scenarios),
    '',
    `![bar chart of every scenario](${r.svgFile})`,
    '',
    '## Targets',
    '',
    targetsTable(r.scenarios),
    '',
  )
  for (const s of r.scenarios) {
    out.push(`## ${s.title}`, '', s.description, '', mdTable(s.columns, s.rows), '')
    for (const n of s.notes) out.push(`- ${n}`)
    if (s.notes.length > 0) out.push('')
    if (s.configs.length > 0) {
      out.push('<details><summary>Exact configuration of each row</summary>', '')
      for (const c of s.configs) out.push(`**${c.label}**`, '', '```ts', c.config, '```', '')
      out.push('</details>', '')
    }
  }
  out.push('## Fairness notes', '', FAIRNESS, '')
  if (r.profiles.length > 0) {
    out.push('## Profiles of the missed targets', '')
    for (const p of r.profiles) out.push(`### ${p.scenario}`, '', p.markdown, '')
  }
  if (r.notes.trim() !== '') out.push('## Analysis', '', r.notes.trim(), '')
  return `${out.join('\n')}\n`
}
