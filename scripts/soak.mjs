#!/usr/bin/env node
// `pnpm soak [--minutes N] [--workers N] [--rate OPS] [--restart-every SECONDS] [--no-build]`
//
// Does a long run leak? Mixed load (getOrSet, set, delete, expire, tags, getMany) from several
// worker processes with L1 and the bus on, against a private redis-server on loopback that is
// restarted about once a minute. Every 10 s each worker reports its heap (after a GC) and its
// active handles; at the end a table and a verdict (flat or growing) are printed.
//
// Bounded: --minutes (default 10) plus a hard deadline of 2 more minutes, after which everything
// is killed; each worker issues at most --rate operations per second (default 300); loopback only.
//
// Roles, one file: the launcher (no flag) builds @herdless/core into a private snapshot (as
// `pnpm bench` does: other people rebuild packages/core/dist) and re-runs this file with
// `--coordinator` under tsx, which can import the test-utils sources (startRedis). The
// coordinator forks `--worker` processes, which import only the built core.
import { fork, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const self = fileURLToPath(import.meta.url)
const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
function num(name, fallback) {
  const i = args.indexOf(name)
  if (i === -1) return fallback
  const v = Number(args[i + 1])
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`soak.mjs: ${name} needs a positive number`)
    process.exit(2)
  }
  return v
}
function str(name) {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

const SAMPLE_MS = 10_000

if (flag('--worker')) await worker()
else if (flag('--coordinator')) await coordinator()
else await launcher()

// ---------------------------------------------------------------------------------------------
async function launcher() {
  const run = (command, argv, options = {}) =>
    new Promise((resolve) => {
      const child = spawn(command, argv, { cwd: root, stdio: 'inherit', ...options })
      child.on('error', (e) => {
        console.error(`soak.mjs: cannot run ${command}: ${e.message}`)
        resolve(127)
      })
      child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 143)))
    })
  if ((await run(join(root, 'scripts', 'ensure-redis'), [])) !== 0) process.exit(1)
  const core = join(root, 'packages', 'core')
  const snapshot = mkdtempSync(join(tmpdir(), 'herdless-soak-core-'))
  process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }))
  writeFileSync(join(snapshot, 'package.json'), '{ "type": "module", "private": true }\n')
  symlinkSync(join(core, 'node_modules'), join(snapshot, 'node_modules'), 'dir')
  const dist = join(snapshot, 'dist')
  if (flag('--no-build')) {
    if (!existsSync(join(core, 'dist', 'index.js'))) {
      console.error('soak.mjs: --no-build, but packages/core/dist/index.js is missing')
      process.exit(1)
    }
    cpSync(join(core, 'dist'), dist, { recursive: true })
  } else {
    process.stdout.write('soak.mjs: building @herdless/core\n')
    const code = await run('pnpm', [
      '--filter',
      '@herdless/core',
      'exec',
      'tsup',
      '--silent',
      '--out-dir',
      dist,
    ])
    if (code !== 0) process.exit(code)
  }
  process.on('SIGINT', () => {}) // the coordinator stops its workers and Redis itself
  const code = await run(
    process.execPath,
    ['--import', 'tsx', self, '--coordinator', '--core', pathToFileURL(join(dist, 'index.js')).href, ...args],
    { cwd: join(root, 'benchmarks') }, // where tsx is installed
  )
  process.exit(code)
}

// ---------------------------------------------------------------------------------------------
async function coordinator() {
  const minutes = num('--minutes', 10)
  const workers = Math.round(num('--workers', 2))
  const rate = num('--rate', 300)
  const restartEvery = num('--restart-every', 60) * 1000
  const coreUrl = str('--core')
  const testUtils = pathToFileURL(join(root, 'packages', 'test-utils', 'src', 'index.ts')).href
  const { startRedis, uniquePrefix } = await import(testUtils)

  const server = await startRedis()
  const prefix = uniquePrefix()
  const started = Date.now()
  const endAt = started + minutes * 60_000
  console.log(
    `soak: ${minutes} min, ${workers} workers x ${rate} ops/s, Redis ${server.url} restarted every ${restartEvery / 1000} s`,
  )

  /** rows[i] = { t, per: [{ heapMB, handles, ops, errors }] } */
  const rows = []
  const children = []
  let stopping = false
  const hard = setTimeout(
    () => {
      console.error('soak: hard deadline passed; killing everything')
      for (const c of children) c.kill('SIGKILL')
      void server.stop().finally(() => process.exit(1))
    },
    minutes * 60_000 + 120_000,
  )
  hard.unref()

  for (let w = 0; w < workers; w++) {
    const child = fork(
      self,
      ['--worker', '--core', coreUrl, '--url', server.url, '--prefix', prefix, '--rate', String(rate)],
      { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    )
    child.on('message', (m) => {
      if (m?.type !== 'sample') return
      const slot = Math.round((m.at - started) / SAMPLE_MS)
      let row = rows.find((r) => r.slot === slot)
      if (row === undefined) {
        row = { slot, per: [] }
        rows.push(row)
      }
      row.per[w] = m
    })
    child.on('exit', (code) => {
      if (!stopping) console.error(`soak: worker ${w} exited early (${code})`)
    })
    children.push(child)
  }

  let restarts = 0
  const restarter = setInterval(() => {
    if (Date.now() > endAt - 5_000) return
    restarts++
    server.restart().catch((e) => console.error(`soak: restart failed: ${e.message}`))
  }, restartEvery)
  const progress = setInterval(() => {
    const last = rows[rows.length - 1]
    if (last === undefined) return
    const cells = last.per.map((p) => (p ? `${p.heapMB.toFixed(1)} MB/${p.handles}h` : '-')).join('  ')
    console.log(`soak: ${Math.round((Date.now() - started) / 1000)} s  ${cells}  restarts ${restarts}`)
  }, 60_000)

  await new Promise((r) => setTimeout(r, endAt - Date.now()))
  stopping = true
  clearInterval(restarter)
  clearInterval(progress)
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          const kill = setTimeout(() => c.kill('SIGKILL'), 15_000)
          c.once('exit', () => {
            clearTimeout(kill)
            resolve()
          })
          c.send({ type: 'stop' })
        }),
    ),
  )
  await server.stop()
  clearTimeout(hard)
  const verdict = report(
    rows.sort((a, b) => a.slot - b.slot),
    workers,
    restarts,
  )
  process.exit(verdict === 'flat' ? 0 : 3)
}

/** Prints the table and returns 'flat' or 'growing'. */
function report(rows, workers, restarts) {
  const head = ['t (s)']
  for (let w = 0; w < workers; w++) {
    head.push(`w${w} heap MB`, `w${w} handles`, `w${w} timers`, `w${w} ops/s`, `w${w} errors`)
  }
  console.log(`\n${head.join('\t')}`)
  for (const r of rows) {
    const cells = [String(r.slot * (SAMPLE_MS / 1000))]
    for (let w = 0; w < workers; w++) {
      const p = r.per[w]
      cells.push(p ? p.heapMB.toFixed(1) : '-', p ? String(p.handles) : '-', p ? String(p.timers) : '-')
      cells.push(p ? String(p.opsPerSec) : '-', p ? String(p.errors) : '-')
    }
    console.log(cells.join('\t'))
  }
  // Judge on the second half against the first (the first sample is warm-up: JIT, L1 filling).
  let growing = false
  const lines = []
  for (let w = 0; w < workers; w++) {
    const series = rows
      .map((r) => r.per[w])
      .filter(Boolean)
      .slice(1)
    if (series.length < 4) {
      lines.push(`w${w}: too few samples (${series.length}) to judge`)
      growing = true
      continue
    }
    const half = Math.floor(series.length / 2)
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const h1 = median(series.slice(0, half).map((p) => p.heapMB))
    const h2 = median(series.slice(half).map((p) => p.heapMB))
    const k1 = Math.max(...series.slice(0, half).map((p) => p.handles))
    const k2 = Math.max(...series.slice(half).map((p) => p.handles))
    const t1 = median(series.slice(0, half).map((p) => p.timers))
    const t2 = median(series.slice(half).map((p) => p.timers))
    const last = series[series.length - 1]
    // Heap: more than 20% and 2 MB up is growth; handles: any sustained rise beyond a few
    // sockets reconnecting at the sample instant.
    const heapGrew = h2 > h1 * 1.2 && h2 - h1 > 2
    const handlesGrew = k2 > k1 + 4
    const timersGrew = t2 > t1 * 2 + 50
    if (heapGrew || handlesGrew || timersGrew) growing = true
    lines.push(
      `w${w}: heap median ${h1.toFixed(1)} -> ${h2.toFixed(1)} MB${heapGrew ? ' (GROWING)' : ''}, handles max ${k1} -> ${k2}${handlesGrew ? ' (GROWING)' : ''}, timers median ${t1} -> ${t2}${timersGrew ? ' (GROWING)' : ''}; ${last.ops} ops, ${last.errors} errors`,
    )
  }
  console.log(`\n${lines.join('\n')}\nRedis restarts: ${restarts}`)
  const verdict = growing ? 'growing' : 'flat'
  console.log(`verdict: ${verdict}`)
  return verdict
}

// ---------------------------------------------------------------------------------------------
async function worker() {
  const { createCache } = await import(str('--core'))
  const rate = num('--rate', 300)
  const cache = createCache({
    redis: str('--url'),
    prefix: str('--prefix'),
    l1: { max: 2_000 },
    bus: true,
    ttl: '5s',
    staleTtl: '30s',
    redisTimeout: '250ms',
    logger: false,
  })
  let errors = 0
  cache.on('error', () => {
    errors++
  })
  const KEYS = 5_000
  const TAGS = 50
  const key = () => `k:${Math.floor(Math.random() * KEYS)}`
  const value = (k) => ({ k, at: Date.now(), body: 'x'.repeat(100 + Math.floor(Math.random() * 900)) })
  const tagsOf = (k) => [`t:${Number(k.slice(2)) % TAGS}`]
  let ops = 0
  let opsAtSample = 0
  let inflight = 0
  const op = async () => {
    const r = Math.random()
    const k = key()
    if (r < 0.7) await cache.getOrSet(k, async () => value(k), { tags: tagsOf(k) })
    else if (r < 0.8) await cache.set(k, value(k), { tags: tagsOf(k) })
    else if (r < 0.85) await cache.delete(k)
    else if (r < 0.9) await cache.expire(k)
    else if (r < 0.92) await cache.invalidateTags([`t:${Math.floor(Math.random() * TAGS)}`])
    else await cache.getMany([key(), key(), key(), key()])
  }
  // A steady rate in 10 ms slices, at most 200 calls in flight (a dead Redis must not pile them up).
  const perSlice = rate / 100
  let carry = 0
  const ticker = setInterval(() => {
    carry += perSlice
    while (carry >= 1) {
      carry--
      if (inflight >= 200) continue
      inflight++
      ops++
      op()
        .catch(() => {
          errors++
        })
        .finally(() => {
          inflight--
        })
    }
  }, 10)
  const sampler = setInterval(() => {
    globalThis.gc?.()
    const mem = process.memoryUsage()
    const resources = process.getActiveResourcesInfo()
    process.send?.({
      type: 'sample',
      at: Date.now(),
      heapMB: mem.heapUsed / 1_048_576,
      // Sockets, pipes, servers...: what a leak of connections shows up in. Timers are counted
      // apart: they rise and fall with the calls in flight (each Redis call has a deadline).
      handles: resources.filter((r) => r !== 'Timeout' && r !== 'Immediate' && r !== 'TTYWrap').length,
      timers: resources.filter((r) => r === 'Timeout').length,
      ops,
      opsPerSec: Math.round((ops - opsAtSample) / (SAMPLE_MS / 1000)),
      errors,
    })
    opsAtSample = ops
  }, SAMPLE_MS)
  process.on('message', async (m) => {
    if (m?.type !== 'stop') return
    clearInterval(ticker)
    clearInterval(sampler)
    const deadline = Date.now() + 5_000
    while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await cache.close()
    process.exit(0)
  })
  process.on('disconnect', () => process.exit(0))
}
