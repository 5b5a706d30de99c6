import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createCache } from '@herdless/core'
import { keySlot } from '@herdless/core/tools'
import { buildPackages, type RedisCluster, redisCommand, sleep } from '@herdless/test-utils'

/**
 * Two application processes (L1 + bus, readers and a writer each) under chaos on a cluster: the
 * counts the bus-coherence tests assert on. CHAOS_LONG=1 stretches every pause (pnpm soak:chaos).
 */

export const LONG = process.env.CHAOS_LONG === '1'
/** Reads older than a write completed more than this before the read began are stale. */
export const BOUND_MS = 1_000
const worker = fileURLToPath(new URL('./bus-worker.mjs', import.meta.url))

export interface WorkerCounts {
  reads: number
  l1Hits: number
  stale: number
  staleWithinBound: number
  maxStaleMs: number
  errors: number
  wrong: number
  writes: number
  writeErrors: number
  unhealthy: Record<string, number>
  ready: number
  maxUnknownMs: number
  topology: Record<string, number>
}

interface WorkerResult {
  counts: WorkerCounts
  samples: string[]
  episodes: string[]
  last: Record<string, [number, number]>
}

interface Worker {
  child: ChildProcess
  result: Promise<WorkerResult>
}

const children = new Set<ChildProcess>()

/** Kill every worker still running (a failed test never reached run.stop()). */
export function stopWorkers(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  children.clear()
}

export function buildCore(): void {
  buildPackages('@herdless/core')
}

export const keysFor = (n: number) => Array.from({ length: n }, (_, i) => `item:${i}`)

/** Pause between chaos steps (longer under CHAOS_LONG). */
export const settle = (ms: number) => sleep(LONG ? ms * 4 : ms)

export interface ChaosRun {
  workers: Worker[]
  prefix: string
  keys: string[]
  stop(): Promise<WorkerResult[]>
}

export async function startWorkers(
  cluster: RedisCluster,
  options: { sharded: boolean; keys: string[]; prefix: string },
): Promise<ChaosRun> {
  const cacheOptions = {
    redis: { cluster: cluster.startupNodes },
    prefix: options.prefix,
    l1: { max: 5_000 },
    bus: { sharded: options.sharded, channels: 8 },
    topology: { pollInterval: 500 },
  }
  const workers: Worker[] = []
  const hellos: Promise<void>[] = []
  for (let w = 0; w < 2; w++) {
    const own = options.keys.filter((_, i) => i % 2 === w)
    const child = fork(worker, {
      env: {
        ...process.env,
        CACHE_OPTIONS: JSON.stringify(cacheOptions),
        KEYS: JSON.stringify(options.keys),
        OWN: JSON.stringify(own),
        BOUND_MS: String(BOUND_MS),
        READERS: '6',
        WRITE_EVERY_MS: '5',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    children.add(child)
    let onResult: (r: WorkerResult) => void = () => {}
    const result = new Promise<WorkerResult>((resolve) => {
      onResult = resolve
    })
    hellos.push(
      new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`bus worker exited with ${code}`)))
        child.on('message', (m: { hello?: boolean; write?: unknown; result?: WorkerResult }) => {
          if (m.hello) resolve()
          else if (m.write !== undefined) {
            // Relay a completed write to the other process(es).
            for (const other of workers) if (other.child !== child) other.child.send({ write: m.write })
          } else if (m.result !== undefined) onResult(m.result)
        })
      }),
    )
    workers.push({ child, result })
  }
  await Promise.all(hellos)
  for (const w of workers) w.child.send({ op: 'start' })
  return {
    workers,
    prefix: options.prefix,
    keys: options.keys,
    async stop() {
      for (const w of workers) w.child.send({ op: 'stop' })
      return Promise.all(workers.map((w) => w.result))
    },
  }
}

/**
 * Entries lost on slots that are served at the end: a key whose last completed write is not what
 * a fresh process (no L1) reads from Redis.
 */
export async function lostEntries(
  cluster: RedisCluster,
  run: ChaosRun,
  results: WorkerResult[],
): Promise<{ lost: number; checked: number; samples: string[] }> {
  // Slots whose owner answers (the cluster's own map, which includes nodes added by redis-cli).
  const served = new Set<number>()
  const [live] = await cluster.primaries()
  const map = live === undefined ? [] : await redisCommand(live.port, ['CLUSTER', 'SLOTS'])
  for (const range of Array.isArray(map) ? map : []) {
    if (!Array.isArray(range)) continue
    const [a, b, owner] = range
    const port = Array.isArray(owner) ? Number(owner[1]) : 0
    const up = await redisCommand(port, ['PING']).then(
      () => true,
      () => false,
    )
    if (up) for (let s = Number(a); s <= Number(b); s++) served.add(s)
  }
  const cache = createCache({ redis: { cluster: cluster.startupNodes }, prefix: run.prefix, bus: false })
  let lost = 0
  let checked = 0
  const samples: string[] = []
  try {
    for (const key of run.keys) {
      const k = `${run.prefix}:{${key}}`
      if (!served.has(keySlot(k))) continue
      const [version]: [number, number] = results
        .map((r): [number, number] => r.last[key] ?? [0, 0])
        .sort((a, b) => b[0] - a[0])[0] ?? [0, 0]
      if (version === 0) continue
      checked++
      const v = await cache.get<string>(key)
      const got = typeof v === 'string' ? Number(v.split('|')[1]) : -1
      if (got < version) {
        lost++
        if (samples.length < 5) samples.push(`${key}: wrote v${version}, Redis has ${String(v)}`)
      }
    }
  } finally {
    await cache.close()
  }
  return { lost, checked, samples }
}

export function summarize(name: string, results: WorkerResult[], lost: { lost: number; checked: number }) {
  const sum = (f: (c: WorkerCounts) => number) => results.reduce((a, r) => a + f(r.counts), 0)
  const max = (f: (c: WorkerCounts) => number) => Math.max(...results.map((r) => f(r.counts)))
  const total = {
    reads: sum((c) => c.reads),
    l1Hits: sum((c) => c.l1Hits),
    stale: sum((c) => c.stale),
    staleWithinBound: sum((c) => c.staleWithinBound),
    maxStaleMs: max((c) => c.maxStaleMs),
    errors: sum((c) => c.errors),
    wrong: sum((c) => c.wrong),
    writes: sum((c) => c.writes),
    writeErrors: sum((c) => c.writeErrors),
    maxUnknownMs: max((c) => c.maxUnknownMs),
    lost: lost.lost,
    checkedEntries: lost.checked,
  }
  console.info(
    `[bus-chaos] ${name}\n  ${JSON.stringify(total)}\n` +
      results
        .map(
          (r, i) =>
            `  worker ${i}: unhealthy=${JSON.stringify(r.counts.unhealthy)} ready=${r.counts.ready} ` +
            `topology=${JSON.stringify(r.counts.topology)}\n    L1 unknown: ${r.episodes.join(' ')}${r.samples.length > 0 ? ` stale samples: ${r.samples.join('; ')}` : ''}`,
        )
        .join('\n'),
  )
  return total
}
