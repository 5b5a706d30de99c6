/**
 * CPU profiles of Herdless and the scenario's baseline on one scenario's hot loop: CPU per call
 * by package side by side, then Herdless's top frames by self time.
 *
 *   pnpm --filter @herdless/benchmarks profile l2-hit [--seconds 5]      # Herdless vs baseline
 *   pnpm --filter @herdless/benchmarks profile l1-hit --contender lru    # one contender alone
 *
 * The parent spawns a fresh process (so no other library's JIT state or heap is around), which
 * starts its own redis-server, warms up, then records a V8 CPU profile (the same profiler and
 * .cpuprofile format as `node --cpu-prof`, but started and stopped around the measured loop only)
 * and writes it to results/profiles/<scenario>.cpuprofile (open it in Chrome DevTools). The
 * parent maps frames of the built @herdless/core back to packages/core/src through its source
 * map and prints the top self-time frames.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { SourceMap } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, startRedis } from '@herdless/test-utils'
import { type ContenderId, createContender, label } from './contenders'
import { coreDistUrl } from './core'
import { closedLoop } from './harness'
import { isProfile, makeValue } from './value'

export type ProfileScenario = 'l2-hit' | 'l2-hit-cluster' | 'l1-hit' | 'miss-fill'
const SCENARIOS: readonly ProfileScenario[] = ['l2-hit', 'l2-hit-cluster', 'l1-hit', 'miss-fill']

/** On the cluster scenario 'herdless' and 'raw' mean their cluster rows. */
const ON_CLUSTER: Partial<Record<ContenderId, ContenderId>> = {
  herdless: 'herdless-cluster',
  raw: 'raw-cluster',
}

const benchDir = fileURLToPath(new URL('..', import.meta.url))
const repoRoot = join(benchDir, '..')

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

async function child(
  scenario: ProfileScenario,
  seconds: number,
  out: string,
  contender: ContenderId,
): Promise<void> {
  const onCluster = scenario === 'l2-hit-cluster'
  const server = onCluster ? await startCluster() : await startRedis()
  try {
    const c = await createContender(onCluster ? (ON_CLUSTER[contender] ?? contender) : contender, {
      url: 'url' in server ? server.url : '',
      cluster: 'startupNodes' in server ? server.startupNodes : undefined,
      tier: scenario === 'l1-hit' ? 'l1' : 'l2',
      ttlMs: 3_600_000,
      staleMs: 3_600_000,
      l1Max: 10_000,
      prefix: 'prof',
    })
    const keys = Array.from({ length: 1_000 }, (_, i) => `user:${i}`)
    for (const k of keys) await c.set(k, makeValue(Number(k.slice(5))))
    for (const k of keys) await c.getOrSet(k, () => makeValue(-1))
    if (!isProfile(await c.getOrSet('user:5', () => makeValue(-1)), 5)) throw new Error('warm read failed')
    let seq = 0
    const call =
      scenario === 'miss-fill'
        ? () => c.getOrSet(`miss:${seq++}`, () => makeValue(1))
        : (caller: number, i: number) =>
            c.getOrSet(keys[caller + 100 * (i % 10)] as string, () => makeValue(-1))
    await closedLoop(call, { concurrency: 100, durationMs: 1_000, sampleEvery: 1_000 })
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    // 250 µs: enough samples for a few seconds of loop without the profiler dominating it.
    await session.post('Profiler.setSamplingInterval', { interval: 250 })
    await session.post('Profiler.start')
    const res = await closedLoop(call, { concurrency: 100, durationMs: seconds * 1000, sampleEvery: 1_000 })
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(profile))
    process.stdout.write(`${JSON.stringify({ opsPerSec: res.opsPerSec, ops: res.ops })}\n`)
    await c.close()
  } finally {
    await server.stop()
  }
}

/** Run the profile in a fresh process; resolves to the .cpuprofile path and the loop's ops/s. */
export function recordProfile(
  scenario: ProfileScenario,
  seconds: number,
  contender: ContenderId = 'herdless',
): Promise<{ file: string; opsPerSec: number; ops: number }> {
  const file = join(
    benchDir,
    'results',
    'profiles',
    `${scenario}${contender === 'herdless' ? '' : `-${contender}`}.cpuprofile`,
  )
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(benchDir, 'src', 'profile.ts'),
        '--child',
        scenario,
        '--seconds',
        String(seconds),
        '--out',
        file,
        '--contender',
        contender,
      ],
      { cwd: benchDir, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let stdout = ''
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    p.on('error', reject)
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`profile child exited with ${code}`))
      const line = stdout.trim().split('\n').pop() ?? '{}'
      const { opsPerSec, ops } = JSON.parse(line) as { opsPerSec: number; ops: number }
      resolve({ file, opsPerSec, ops })
    })
  })
}

type Category = 'herdless core' | 'ioredis' | 'msgpackr' | 'lru-cache' | 'node internals' | 'GC' | 'other'

function categorize(f: CallFrame): Category {
  const u = f.url
  if (f.functionName === '(garbage collector)') return 'GC'
  if (isCoreUrl(u)) return 'herdless core'
  if (u.includes('/ioredis/') || u.includes('/redis-parser/') || u.includes('/denque/')) return 'ioredis'
  if (u.includes('/msgpackr/')) return 'msgpackr'
  if (u.includes('/lru-cache/')) return 'lru-cache'
  if (u.startsWith('node:') || u === '') return 'node internals'
  return 'other'
}

function isCoreUrl(u: string): boolean {
  return u.includes('/packages/core/dist/') || (coreDistUrl !== undefined && u.startsWith(coreDistUrl))
}

/** Frames of the built core, mapped back to packages/core/src via dist/*.js.map. */
class CoreMapper {
  readonly #maps = new Map<string, SourceMap | null>()

  map(f: CallFrame): string | undefined {
    if (!isCoreUrl(f.url)) return undefined
    const path = f.url.startsWith('file://') ? fileURLToPath(f.url) : f.url
    let sm = this.#maps.get(path)
    if (sm === undefined) {
      try {
        sm = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')))
      } catch {
        sm = null
      }
      this.#maps.set(path, sm)
    }
    if (sm === null) return undefined
    const e = sm.findEntry(f.lineNumber, f.columnNumber) as {
      originalSource?: string
      originalLine?: number
    }
    if (e.originalSource === undefined || e.originalLine === undefined) return undefined
    const src = e.originalSource.startsWith('file://')
      ? fileURLToPath(e.originalSource)
      : join(dirname(path), e.originalSource)
    return `${relative(repoRoot, src)}:${e.originalLine + 1}`
  }
}

function where(f: CallFrame, mapper: CoreMapper): string {
  const mapped = mapper.map(f)
  if (mapped !== undefined) return mapped
  if (f.url === '') return ''
  const u = f.url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('/node_modules/')
  const short =
    nm >= 0 ? u.slice(nm + '/node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '') : u
  return `${short}:${f.lineNumber + 1}`
}

export interface ProfileAnalysis {
  file: string
  /** Sampled busy time (µs), idle and (program) excluded. */
  busyUs: number
  idleUs: number
  categories: Map<Category, number>
  frames: Array<{ name: string; where: string; cat: Category; us: number }>
  /** Inclusive time of Herdless functions (self + callees, counted once per sample). */
  inclusive: Array<{ name: string; us: number }>
}

/** Self time per frame and per package, plus inclusive time of Herdless functions. */
export function analyzeProfile(file: string): ProfileAnalysis {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0))
  }
  const mapper = new CoreMapper()
  let busyUs = 0
  let idleUs = 0
  const frames = new Map<string, { name: string; where: string; cat: Category; us: number }>()
  const categories = new Map<Category, number>()
  const inclusive = new Map<string, number>()
  for (const [id, us] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const f = n.callFrame
    if (f.functionName === '(idle)' || f.functionName === '(program)') {
      idleUs += us
      continue
    }
    busyUs += us
    const cat = categorize(f)
    categories.set(cat, (categories.get(cat) ?? 0) + us)
    const w = where(f, mapper)
    const name = f.functionName || '(anonymous)'
    const key = `${name}@${w}`
    const cur = frames.get(key) ?? { name, where: w, cat, us: 0 }
    cur.us += us
    frames.set(key, cur)
    const seen = new Set<string>()
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const pf = byId.get(p)?.callFrame
      if (pf === undefined || categorize(pf) !== 'herdless core') continue
      const k = `${pf.functionName || '(anonymous)'} (${where(pf, mapper)})`
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + us)
    }
  }
  return {
    file,
    busyUs,
    idleUs,
    categories,
    frames: [...frames.values()].sort((a, b) => b.us - a.us),
    inclusive: [...inclusive.entries()].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us),
  }
}

const CATEGORY_ORDER: readonly Category[] = [
  'herdless core',
  'ioredis',
  'msgpackr',
  'lru-cache',
  'node internals',
  'GC',
  'other',
]

/** Markdown: busy time, self time by package, top frames, Herdless inclusive times. */
export function renderProfile(a: ProfileAnalysis, top = 15): string {
  const pct = (us: number) => `${((us / Math.max(1, a.busyUs)) * 100).toFixed(1)}%`
  return [
    `Busy time sampled: ${(a.busyUs / 1000).toFixed(0)} ms (idle/program ${(a.idleUs / 1000).toFixed(0)} ms excluded). Profile: \`${relative(repoRoot, a.file)}\` (open in Chrome DevTools → Performance).`,
    '',
    `Top ${top} frames by self time:`,
    '',
    '| self | function | where |',
    '|---:|---|---|',
    ...a.frames.slice(0, top).map((r) => `| ${pct(r.us)} | \`${r.name}\` | ${r.where} |`),
    '',
    'Herdless functions by inclusive time (self + synchronous callees; work after an `await` is not included):',
    '',
    '| inclusive | function |',
    '|---:|---|',
    ...a.inclusive.slice(0, 12).map((r) => `| ${pct(r.us)} | \`${r.name}\` |`),
  ].join('\n')
}

/**
 * CPU per call, by package, for Herdless and the baseline under the same loop: what the
 * difference in throughput is made of.
 */
export function renderComparison(
  h: ProfileAnalysis,
  hOps: number,
  b: ProfileAnalysis,
  bOps: number,
  baselineLabel: string,
): string {
  const per = (us: number, ops: number) => (ops > 0 ? us / ops : Number.NaN)
  const f = (v: number) => (Number.isFinite(v) ? (v >= 10 ? v.toFixed(1) : v.toFixed(2)) : 'n/a')
  const rows = CATEGORY_ORDER.map((c) => {
    const hv = per(h.categories.get(c) ?? 0, hOps)
    const bv = per(b.categories.get(c) ?? 0, bOps)
    return `| ${c} | ${f(hv)} | ${f(bv)} | ${hv - bv >= 0 ? '+' : ''}${f(hv - bv)} |`
  })
  const ht = per(h.busyUs, hOps)
  const bt = per(b.busyUs, bOps)
  return [
    `CPU time per call (µs), same loop, each alone in a fresh process under the profiler (${hOps.toLocaleString('en-US')} Herdless calls, ${bOps.toLocaleString('en-US')} baseline calls):`,
    '',
    `| package | Herdless | ${baselineLabel} | difference |`,
    '|---|---:|---:|---:|',
    ...rows,
    `| **total** | **${f(ht)}** | **${f(bt)}** | **${ht - bt >= 0 ? '+' : ''}${f(ht - bt)}** |`,
  ].join('\n')
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}

const BASELINE: Record<ProfileScenario, ContenderId> = {
  'l2-hit': 'raw',
  'l2-hit-cluster': 'raw',
  'l1-hit': 'lru',
  'miss-fill': 'raw',
}

/**
 * Profile Herdless and the scenario's baseline one after the other (each in a fresh process),
 * and render the per-call CPU comparison followed by Herdless's own hot frames.
 */
export async function profileAgainstBaseline(
  scenario: ProfileScenario,
  seconds: number,
): Promise<{ markdown: string; opsPerSec: number; baselineOpsPerSec: number }> {
  const base = BASELINE[scenario]
  const h = await recordProfile(scenario, seconds, 'herdless')
  const b = await recordProfile(scenario, seconds, base)
  const baseLabel = label(scenario === 'l2-hit-cluster' ? (ON_CLUSTER[base] ?? base) : base)
  const ha = analyzeProfile(h.file)
  const ba = analyzeProfile(b.file)
  const markdown = [
    `Under the profiler: Herdless ${Math.round(h.opsPerSec).toLocaleString('en-US')} ops/s, ${baseLabel} ${Math.round(b.opsPerSec).toLocaleString('en-US')} ops/s.`,
    '',
    renderComparison(ha, h.ops, ba, b.ops, baseLabel),
    '',
    renderProfile(ha),
  ].join('\n')
  return { markdown, opsPerSec: h.opsPerSec, baselineOpsPerSec: b.opsPerSec }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const seconds = Number(arg(argv, '--seconds') ?? 5)
  const childScenario = arg(argv, '--child')
  if (childScenario !== undefined) {
    await child(
      childScenario as ProfileScenario,
      seconds,
      arg(argv, '--out') ?? 'profile.cpuprofile',
      (arg(argv, '--contender') ?? 'herdless') as ContenderId,
    )
    return
  }
  const scenario = argv.find((a) => SCENARIOS.includes(a as ProfileScenario)) as ProfileScenario | undefined
  if (scenario === undefined) {
    process.stderr.write(
      `usage: profile.ts <${SCENARIOS.join('|')}> [--seconds N] [--contender raw|lru|herdless|...]\n`,
    )
    process.exit(2)
  }
  const contender = arg(argv, '--contender') as ContenderId | undefined
  if (contender === undefined) {
    process.stdout.write(`${(await profileAgainstBaseline(scenario, seconds)).markdown}\n`)
    return
  }
  const { file, opsPerSec } = await recordProfile(scenario, seconds, contender)
  process.stdout.write(
    `${scenario} (${contender}): ${Math.round(opsPerSec).toLocaleString('en-US')} ops/s under the profiler\n\n`,
  )
  process.stdout.write(`${renderProfile(analyzeProfile(file))}\n`)
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
