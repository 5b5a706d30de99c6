// One process of the fleet (forked by bench.ts with tsx). It gets one job, connects, says
// 'ready', waits for 'go' so that every process starts together, runs, reports, exits.
import { setTimeout as sleep } from 'node:timers/promises'
import { createCache } from '@herdless/core'
import { Redis } from 'ioredis'
import type { CallersJob, FromWorker, HammerJob, Result, ToWorker } from './protocol'
import { makeReader } from './strategies'

/** A sub-millisecond wall clock comparable across processes on one host. */
const epoch = (t: number) => performance.timeOrigin + t

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) throw new Error('worker.ts runs as a forked child of bench.ts')
    process.send(message, undefined, {}, () => resolve())
  })
}

const go = new Promise<void>((resolve) => {
  process.on('message', (m: ToWorker) => {
    if (m.type === 'go') setTimeout(resolve, Math.max(0, m.at - Date.now()))
  })
})

async function runCallers(job: CallersJob): Promise<Result> {
  const cache = createCache({ redis: job.redis, prefix: job.prefix, jitter: 0, bus: true })
  const subscribed = new Promise<void>((resolve) => cache.once('bus:ready', () => resolve()))
  // Connected and subscribed before the clock starts.
  await Promise.all([subscribed, cache.get(`${job.key}-warmup`)])
  const loaderDurations: number[] = []
  const loaderSpans: Array<[number, number]> = []
  const answeredAt: number[] = []
  let loaderCalls = 0
  const loader = async () => {
    loaderCalls++
    const started = performance.now()
    await sleep(job.loaderMs)
    const ended = performance.now()
    loaderDurations.push(ended - started)
    loaderSpans.push([epoch(started), epoch(ended)])
    return `value@${process.pid}`
  }
  await send({ type: 'ready' })
  await go
  let errors = 0
  const latencies = await Promise.all(
    Array.from({ length: job.callers }, async () => {
      const t0 = performance.now()
      try {
        await cache.getOrSet(job.key, loader)
      } catch {
        errors++
      }
      const t1 = performance.now()
      answeredAt.push(epoch(t1))
      return t1 - t0
    }),
  )
  await cache.close() // waits for a background refresh, so it is counted
  return { kind: 'callers', latencies, loaderCalls, loaderDurations, loaderSpans, answeredAt, errors }
}

async function runHammer(job: HammerJob): Promise<Result> {
  const redis = new Redis(job.redis)
  const computeStarts: number[] = []
  const compute = async () => {
    computeStarts.push(Date.now())
    await sleep(job.computeMs)
    return `v${computeStarts.length}@${process.pid}`
  }
  const readers = Array.from({ length: job.workers }, () =>
    makeReader(job.strategy, redis, job.redis, { key: job.key, ttlMs: job.ttlMs, compute }),
  )
  // Connect every reader before the clock starts.
  await redis.ping()
  await Promise.all(readers.map((r) => r.warm()))
  await send({ type: 'ready' })
  await go
  const until = Date.now() + job.durationMs
  let calls = 0
  let misses = 0
  let blocked = 0
  const latencies: number[] = []
  let errors = 0
  await Promise.all(
    readers.map(async (reader) => {
      while (Date.now() < until) {
        const t0 = performance.now()
        try {
          const { missed, waited } = await reader.read()
          if (missed) misses++
          if (waited) blocked++
        } catch {
          errors++
        }
        latencies.push(performance.now() - t0)
        calls++
        await sleep(job.thinkMs)
      }
    }),
  )
  await Promise.all(readers.map((r) => r.close()))
  await redis.quit()
  return { kind: 'hammer', calls, computeStarts, misses, blocked, latencies, errors }
}

process.once('message', async (m: ToWorker) => {
  if (m.type !== 'job') return
  try {
    const result = m.job.kind === 'callers' ? await runCallers(m.job) : await runHammer(m.job)
    await send({ type: 'result', result })
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) })
  }
  process.exit(0)
})
