/**
 * `pnpm bench [--quick] [--only l2-hit,l1-hit,...] [--out <dir>] [--no-profile]`
 *
 * Starts a private redis-server, runs the six scenarios against Herdless, raw ioredis + msgpackr,
 * BentoCache and cache-manager, and writes <out>/latest.{md,svg,json} (quick mode: quick.*).
 * A full run without --only/--out also refreshes the headline table in benchmarks/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { startRedis } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { contenderVersions, describeMachine, loadAverage } from './machine'
import type { Plan } from './plan'
import { planFor } from './plan'
import { type ProfileScenario, profileAgainstBaseline } from './profile'
import { headlineTable, renderReport } from './report'
import { coldStampede, expiringHotKey } from './scenarios/fleet-scenarios'
import { memory } from './scenarios/memory'
import { l1Hit, l2Hit, l2HitCluster, missFill } from './scenarios/throughput'
import { renderSvg } from './svg'
import type { BenchContext, Mode, ScenarioResult } from './types'

const SCENARIOS: Array<{ id: string; run: (ctx: BenchContext, plan: Plan) => Promise<ScenarioResult> }> = [
  { id: 'l2-hit', run: l2Hit },
  { id: 'l2-hit-cluster', run: l2HitCluster },
  { id: 'l1-hit', run: l1Hit },
  { id: 'miss-fill', run: missFill },
  { id: 'cold-stampede', run: coldStampede },
  { id: 'expiring-hot-key', run: expiringHotKey },
  { id: 'memory', run: memory },
]

const PROFILED: Record<string, ProfileScenario> = {
  'l2-hit': 'l2-hit',
  'l2-hit-cluster': 'l2-hit-cluster',
  'l1-hit': 'l1-hit',
  'miss-fill': 'miss-fill',
}

const benchDir = fileURLToPath(new URL('..', import.meta.url))
const repoRoot = join(benchDir, '..')

interface Args {
  mode: Mode
  only: string[] | undefined
  out: string | undefined
  profile: boolean
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { mode: 'full', only: undefined, out: undefined, profile: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') continue
    if (a === '--quick') args.mode = 'quick'
    else if (a === '--no-profile') args.profile = false
    else if (a === '--only') args.only = (argv[++i] ?? '').split(',').filter(Boolean)
    else if (a === '--out') args.out = argv[++i]
    else
      throw new Error(
        `unknown argument ${a}; usage: pnpm bench [--quick] [--only ${SCENARIOS.map((s) => s.id).join(',')}] [--out <dir>] [--no-profile]`,
      )
  }
  for (const id of args.only ?? []) {
    if (!SCENARIOS.some((s) => s.id === id)) throw new Error(`unknown scenario ${id}`)
  }
  return args
}

const README_START = '<!-- headline:start -->'
const README_END = '<!-- headline:end -->'

/** The headline table between the markers of benchmarks/README.md and of the repository README. */
function updateReadme(table: string, machineLine: string): void {
  const targets: Array<[string, (text: string) => string]> = [
    [join(benchDir, 'README.md'), (t) => t],
    // The root README links into benchmarks/.
    [join(repoRoot, 'README.md'), (t) => t.replaceAll('](results/', '](benchmarks/results/')],
  ]
  for (const [file, rebase] of targets) {
    if (!existsSync(file)) continue
    const text = readFileSync(file, 'utf8')
    const a = text.indexOf(README_START)
    const b = text.indexOf(README_END)
    if (a < 0 || b < a) continue
    const body = `${README_START}\n${rebase(machineLine)}\n\n${rebase(table)}\n${README_END}`
    writeFileSync(file, text.slice(0, a) + body + text.slice(b + README_END.length))
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const plan = planFor(args.mode)
  const outDir = resolve(args.out ?? join(benchDir, 'results'))
  const base = args.mode === 'full' ? 'latest' : 'quick'
  mkdirSync(outDir, { recursive: true })
  const t0 = performance.now()
  const log = (line: string) => process.stdout.write(`${line}\n`)
  if ((globalThis as { gc?: unknown }).gc === undefined)
    log('note: run with --expose-gc for heap numbers (pnpm bench does)')

  const server = await startRedis()
  const admin = new Redis(server.url)
  const stop = async () => {
    admin.disconnect()
    await server.stop()
  }
  process.once('SIGINT', () => {
    stop().finally(() => process.exit(130))
  })
  try {
    const machine = await describeMachine(admin, repoRoot)
    log(
      `herdless bench (${args.mode}) on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Redis ${machine.redis}`,
    )
    const ctx: BenchContext = { mode: args.mode, url: server.url, admin, benchDir, log }
    const results: ScenarioResult[] = []
    for (const s of SCENARIOS) {
      if (args.only !== undefined && !args.only.includes(s.id)) continue
      log(`\n== ${s.id}`)
      results.push(await s.run(ctx, plan))
    }
    machine.loadAtEnd = loadAverage()

    const profiles: Array<{ scenario: string; markdown: string }> = []
    if (args.profile && args.mode === 'full') {
      for (const r of results) {
        const scenario = PROFILED[r.id]
        if (scenario === undefined || r.targets.every((t) => t.met)) continue
        log(`\n== profiling Herdless on ${scenario} (a target was missed)`)
        const { markdown } = await profileAgainstBaseline(scenario, 5)
        profiles.push({ scenario: r.title, markdown })
      }
    }

    const notesFile = join(benchDir, 'results', 'notes.md')
    const notes = args.mode === 'full' && existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : ''
    const durationS = (performance.now() - t0) / 1000
    const svgFile = `${base}.svg`
    const md = renderReport({
      mode: args.mode,
      machine,
      versions: contenderVersions(benchDir),
      durationS,
      scenarios: results,
      profiles,
      notes,
      svgFile,
    })
    const subtitle = `${machine.cpu}, ${machine.cores} cores · Node ${machine.node} · Redis ${machine.redis} · ${machine.date.slice(0, 10)}${args.mode === 'quick' ? ' · quick mode' : ''}`
    const svg = renderSvg(
      results.map((r) => ({ title: r.chart.title, bars: r.chart.bars })),
      subtitle,
    )
    writeFileSync(join(outDir, `${base}.md`), md)
    writeFileSync(join(outDir, svgFile), svg)
    writeFileSync(
      join(outDir, `${base}.json`),
      `${JSON.stringify({ mode: args.mode, machine, plan, scenarios: results.map((r) => ({ id: r.id, title: r.title, columns: r.columns, rows: r.rows, targets: r.targets, data: r.data })) }, null, 2)}\n`,
    )
    if (args.mode === 'full' && args.only === undefined && args.out === undefined) {
      updateReadme(
        headlineTable(results),
        `Measured ${machine.date.slice(0, 10)} on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, Redis ${machine.redis}; full results and configuration in [results/latest.md](results/latest.md).`,
      )
    }
    log(
      `\nwrote ${relative(process.cwd(), join(outDir, `${base}.md`))} and ${svgFile} in ${durationS.toFixed(0)} s`,
    )
    for (const r of results)
      for (const t of r.targets) log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.text}: ${t.detail}`)
  } finally {
    await stop()
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
