/**
 * HTTP response caching under load, on loopback only: the example apps (express-app,
 * fastify-app) with and without Herdless, measured with autocannon.
 *
 * 1. cached route: `/products?category=bench` for BENCH_DURATION seconds over 100 connections
 *    (requests/s, p99 latency). Without the cache every request waits on the fake 200 ms
 *    database call; with it, requests are answered from Redis.
 * 2. cold route: 1,000 requests to a never-seen URL over 200 concurrent connections; the
 *    handler (database) calls are counted by the app (`/stats`).
 *
 * Env: BENCH_DURATION (seconds, default 5, at most 60), BENCH_STORE=redis|embedded (default
 * redis: a private redis-server on a free loopback port, stopped at the end).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type RedisServer, startRedis } from '@herdless/test-utils'
import autocannon from 'autocannon'

const DURATION = Math.min(60, Math.max(1, Number(process.env.BENCH_DURATION ?? 5)))
const STORE = process.env.BENCH_STORE === 'embedded' ? 'embedded' : 'redis'
const COLD_CONNECTIONS = 200
const COLD_REQUESTS = 1_000
const HOT_CONNECTIONS = 100

const apps = {
  express: fileURLToPath(new URL('../../../examples/express-app/server.mjs', import.meta.url)),
  fastify: fileURLToPath(new URL('../../../examples/fastify-app/server.mjs', import.meta.url)),
} as const

interface Row {
  app: string
  cache: 'on' | 'off'
  rps: number
  p50: number
  p99: number
  errors: number
  coldRequests: number
  coldHandlerCalls: number
  coldP99: number
}

interface RunningApp {
  child: ChildProcess
  base: string
}

function startApp(script: string, cacheOn: boolean, redisUrl: string | undefined): Promise<RunningApp> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HERDLESS_CACHE: cacheOn ? 'on' : 'off' }
  if (redisUrl === undefined) delete env.REDIS_URL
  else env.REDIS_URL = redisUrl
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 15 s`)), 15_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m?.[1]) {
        clearTimeout(timer)
        resolve({ child, base: m[1] })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${code} before listening`))
    })
  })
}

function stopApp(app: RunningApp): Promise<void> {
  return new Promise((resolve) => {
    if (app.child.exitCode !== null) return resolve()
    const kill = setTimeout(() => app.child.kill('SIGKILL'), 5_000)
    app.child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    app.child.kill('SIGINT')
  })
}

async function dbCalls(base: string): Promise<number> {
  const res = await fetch(`${base}/stats`)
  return ((await res.json()) as { dbCalls: number }).dbCalls
}

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)))
  })
}

async function measure(
  name: string,
  script: string,
  cacheOn: boolean,
  redisUrl: string | undefined,
): Promise<Row> {
  const app = await startApp(script, cacheOn, redisUrl)
  try {
    const hot = `${app.base}/products?category=bench`
    await fetch(hot) // warm: the entry exists before the clock starts
    process.stderr.write(`  ${name}, cache ${cacheOn ? 'on' : 'off'}: cached route for ${DURATION}s ...\n`)
    const r = await load({ url: hot, connections: HOT_CONNECTIONS, duration: DURATION })
    const before = await dbCalls(app.base)
    process.stderr.write(
      `  ${name}, cache ${cacheOn ? 'on' : 'off'}: cold route, ${COLD_REQUESTS} requests ...\n`,
    )
    const cold = await load({
      url: `${app.base}/products?category=cold-${process.hrtime.bigint()}`,
      connections: COLD_CONNECTIONS,
      amount: COLD_REQUESTS,
      timeout: 30,
    })
    const after = await dbCalls(app.base)
    return {
      app: name,
      cache: cacheOn ? 'on' : 'off',
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.non2xx + cold.errors + cold.non2xx,
      coldRequests: cold.requests.total,
      coldHandlerCalls: after - before,
      coldP99: cold.latency.p99,
    }
  } finally {
    await stopApp(app)
  }
}

function table(rows: Row[]): string {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  const lines = [
    `| app | Herdless | cached route req/s | p50 ms | p99 ms | cold route: requests | handler calls | cold p99 ms | errors |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.app} | ${r.cache} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${fmt(r.coldRequests)} | ${fmt(r.coldHandlerCalls)} | ${r.coldP99} | ${r.errors} |`,
    )
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  let redis: RedisServer | undefined
  try {
    if (STORE === 'redis') redis = await startRedis()
    process.stderr.write(
      `HTTP bench: ${STORE === 'redis' ? `Redis ${redis?.url}` : 'embedded store'}, ${DURATION}s per cached-route run\n`,
    )
    const rows: Row[] = []
    for (const [name, script] of Object.entries(apps)) {
      for (const cacheOn of [false, true]) rows.push(await measure(name, script, cacheOn, redis?.url))
    }
    console.log(`\n${table(rows)}\n`)
    console.log(
      `Node ${process.version}, ${STORE === 'redis' ? 'Redis on loopback' : 'embedded store'}; cached route: ${HOT_CONNECTIONS} connections for ${DURATION}s; ` +
        `cold route: ${COLD_REQUESTS} requests over ${COLD_CONNECTIONS} connections to a URL never requested before. ` +
        'The fake database call takes 200 ms.',
    )
  } finally {
    await redis?.stop()
  }
}

await main()
