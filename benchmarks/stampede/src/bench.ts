// Stampede benchmark: prints numbers, asserts nothing. Loopback only, a private redis-server.
//
//   pnpm --filter @herdless/bench-stampede bench [-- --ttl 2000 --compute 50 --expiries 4]
//
// Part 1: N processes x M concurrent getOrSet on a cold key and on an expired hot key: loader
//         calls, caller latency minus the loader's own duration, Redis commands per caller.
// Part 2: the classic expiring-hot-key experiment (50 workers hammering one key) for plain
//         cache-aside, a SET NX lock alone, XFetch alone and Herdless.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createCache } from '@herdless/core'
import { startRedis } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import type { CallersResult, FromWorker, HammerResult, Job, Result, Strategy, ToWorker } from './protocol'
import { makeReader } from './strategies'

const benchDir = fileURLToPath(new URL('..', import.meta.url))
const workerScript = fileURLToPath(new URL('./worker.ts', import.meta.url))

const argv = process.argv.slice(2)
if (argv[0] === '--') argv.shift() // `pnpm ... bench -- --ttl 2000`
const { values: args } = parseArgs({
  args: argv,
  options: {
    ttl: { type: 'string', default: '2000' },
    compute: { type: 'string', default: '50' },
    expiries: { type: 'string', default: '4' },
    processes: { type: 'string', default: '5' },
    workers: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
})
const TTL = Number(args.ttl)
const COMPUTE = Number(args.compute)
const EXPIRIES = Number(args.expiries)
const PROCESSES = Number(args.processes)
const WORKERS = Number(args.workers)

/** Connection and Pub/Sub bookkeeping: not per-call work. */
const NOT_COUNTED = new Set([
  'info',
  'client',
  'hello',
  'ping',
  'select',
  'command',
  'subscribe',
  'unsubscribe',
  'quit',
])

/** Fork one worker per job, start them together, collect their results. */
async function runFleet(jobs: Job[], beforeGo?: () => Promise<void>): Promise<Result[]> {
  const children = jobs.map(() =>
    fork(workerScript, [], { cwd: benchDir, execArgv: ['--import', 'tsx'], stdio: 'inherit' }),
  )
  const ready: Promise<void>[] = []
  const results: Promise<Result>[] = []
  children.forEach((child, i) => {
    const job = jobs[i] as Job
    let onReady = () => {}
    let failReady: (e: Error) => void = () => {}
    ready.push(
      new Promise<void>((resolve, reject) => {
        onReady = resolve
        failReady = reject
      }),
    )
    results.push(
      new Promise<Result>((resolve, reject) => {
        const fail = (e: Error) => {
          failReady(e)
          reject(e)
        }
        child.on('message', (m: FromWorker) => {
          if (m.type === 'ready') onReady()
          else if (m.type === 'result') resolve(m.result)
          else fail(new Error(`worker ${child.pid}: ${m.message}`))
        })
        child.on('exit', (code) => fail(new Error(`worker ${child.pid} exited (${code})`)))
      }),
    )
    child.send({ type: 'job', job } satisfies ToWorker)
  })
  // Failures surface through `ready` first; keep the twin rejections from going unhandled.
  for (const r of results) r.catch(() => {})
  try {
    await Promise.all(ready)
    await beforeGo?.()
    // A common start instant (IPC to each child takes its own time): latencies compare.
    const at = Date.now() + 100
    for (const child of children) child.send({ type: 'go', at } satisfies ToWorker)
    return await Promise.all(results)
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill()
  }
}

async function commandCount(admin: Redis): Promise<number> {
  const text = await admin.info('commandstats')
  let n = 0
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+).*?rejected_calls=(\d+)/gm)) {
    const name = (m[1] ?? '').split('|')[0] ?? ''
    if (!NOT_COUNTED.has(name)) n += Number(m[2]) + Number(m[3])
  }
  return n
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-')
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-')

async function part1(url: string, admin: Redis): Promise<void> {
  const loaderMs = 200
  const scenarios: Array<{ name: string; n: number; m: number; hot: boolean }> = [
    { name: 'cold key', n: 4, m: 250, hot: false },
    { name: 'cold key', n: 8, m: 1, hot: false },
    { name: 'expired hot key (stale copy)', n: 4, m: 250, hot: true },
  ]
  console.log(`\n## Part 1: N processes x M concurrent getOrSet, loader ${loaderMs} ms, bus on\n`)
  console.log(
    '| scenario | N x M | loader calls | latency p50 / p99 / max (ms) | minus loader: p50 / p99 / max (ms) | answered after the loader returned (ms) | Redis commands | per caller | per process |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const s of scenarios) {
    const prefix = `p1-${Date.now()}`
    const key = `k-${s.n}x${s.m}`
    if (s.hot) {
      const seed = createCache({ redis: url, prefix, jitter: 0 })
      await seed.set(key, 'stale', { ttl: '1m' })
      await seed.expire(key)
      await seed.close()
    }
    const jobs: Job[] = Array.from({ length: s.n }, () => ({
      kind: 'callers' as const,
      redis: url,
      prefix,
      key,
      callers: s.m,
      loaderMs,
    }))
    // Workers connect and warm up before 'ready': counted from 'go' on is the calls' own traffic.
    let before = 0
    const results = (await runFleet(jobs, async () => {
      before = await commandCount(admin)
    })) as CallersResult[]
    const used = (await commandCount(admin)) - before
    const loaderCalls = results.reduce((a, r) => a + r.loaderCalls, 0)
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const loadMs = results.flatMap((r) => r.loaderDurations)
    const own = s.hot ? 0 : Math.max(...loadMs)
    const overhead = latencies.map((l) => l - own)
    // Cold key: how long after the holder's loader returned each caller had the value.
    const landed = results.flatMap((r) => r.loaderSpans).find((x) => x !== undefined)?.[1]
    const after = results
      .flatMap((r) => r.answeredAt)
      .map((t) => t - (landed ?? Number.NaN))
      .sort((a, b) => a - b)
    const callers = s.n * s.m
    const triple = (xs: number[]) =>
      `${f1(percentile(xs, 50))} / ${f1(percentile(xs, 99))} / ${f1(xs.at(-1) ?? Number.NaN)}`
    console.log(
      `| ${s.name} | ${s.n} x ${s.m} | ${loaderCalls} | ${triple(latencies)} | ${s.hot ? 'nobody waits for it' : triple(overhead)} | ${s.hot ? '-' : triple(after)} | ${used} | ${f2(used / callers)} | ${f1(used / s.n)} |`,
    )
  }
}

interface Row {
  strategy: Strategy
  expiries: number
  recomputes: number
  perExpiry: number
  maxPerExpiry: number
  misses: number
  blocked: number
  calls: number
  p99: number
  maxLatency: number
  errors: number
}

/** Recomputes grouped by expiry: starts closer than TTL/2 to a burst's first start belong to it. */
function bursts(starts: number[]): number[][] {
  const out: number[][] = []
  for (const t of [...starts].sort((a, b) => a - b)) {
    const last = out.at(-1)
    if (last !== undefined && t - (last[0] ?? t) < TTL / 2) last.push(t)
    else out.push([t])
  }
  return out
}

async function part2(url: string): Promise<void> {
  const strategies: Strategy[] = ['cache-aside', 'set-nx-lock', 'xfetch', 'herdless']
  const durationMs = EXPIRIES * TTL + TTL / 4
  console.log(
    `\n## Part 2: ${PROCESSES * WORKERS} workers (${PROCESSES} processes x ${WORKERS}) hammering one key, compute ${COMPUTE} ms, TTL ${TTL} ms, ${f1(durationMs / 1000)} s each (key warmed first)\n`,
  )
  console.log(
    '| strategy | expiries (recompute bursts) | recomputes | per expiry (mean / max) | misses | callers blocked on a computation | blocked per expiry | calls | latency p99 / max (ms) |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const strategy of strategies) {
    const key = `p2-${strategy}-${Date.now()}`
    // Warm the key with one computation nobody counts.
    const redis = new Redis(url)
    const warm = makeReader(strategy, redis, url, {
      key,
      ttlMs: TTL,
      compute: async () => {
        await new Promise((r) => setTimeout(r, COMPUTE))
        return 'warm'
      },
    })
    await warm.read()
    await warm.close()
    await redis.quit()
    const jobs: Job[] = Array.from({ length: PROCESSES }, () => ({
      kind: 'hammer' as const,
      redis: url,
      key,
      strategy,
      workers: WORKERS,
      durationMs,
      ttlMs: TTL,
      computeMs: COMPUTE,
      thinkMs: 10,
    }))
    const results = (await runFleet(jobs)) as HammerResult[]
    const groups = bursts(results.flatMap((r) => r.computeStarts))
    const recomputes = groups.reduce((a, g) => a + g.length, 0)
    const sum = (pick: (r: HammerResult) => number) => results.reduce((a, r) => a + pick(r), 0)
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const row: Row = {
      strategy,
      expiries: groups.length,
      recomputes,
      perExpiry: groups.length === 0 ? 0 : recomputes / groups.length,
      maxPerExpiry: Math.max(0, ...groups.map((g) => g.length)),
      misses: sum((r) => r.misses),
      blocked: sum((r) => r.blocked),
      calls: sum((r) => r.calls),
      p99: percentile(latencies, 99),
      maxLatency: latencies.at(-1) ?? Number.NaN,
      errors: sum((r) => r.errors),
    }
    console.log(
      `| ${row.strategy} | ${row.expiries} | ${row.recomputes} | ${f1(row.perExpiry)} / ${row.maxPerExpiry} | ${row.misses} | ${row.blocked} | ${f1(row.expiries === 0 ? 0 : row.blocked / row.expiries)} | ${row.calls} | ${f1(row.p99)} / ${f1(row.maxLatency)} |${row.errors > 0 ? ` (${row.errors} errors)` : ''}`,
    )
  }
}

const server = await startRedis()
const admin = new Redis(server.url)
try {
  console.log(`# Stampede benchmark (node ${process.version}, redis-server on loopback :${server.port})`)
  if (args.only !== 'classic') await part1(server.url, admin)
  if (args.only !== 'fleet') await part2(server.url)
} finally {
  admin.disconnect()
  await server.stop()
}
