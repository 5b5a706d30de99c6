/**
 * One application process of scenarios 4 and 5: builds a contender on command, fires callers at
 * a given instant, counts its own loader calls and reports latencies to the runner over IPC.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Contender, createContender } from './contenders'
import type { Command, ExpiringResult, Hello, Reply, Request, StampedeResult } from './fleet-protocol'
import { isProfile, makeValue } from './value'

let contender: Contender | undefined
/** An event-loop gap this long means the whole process was held up, not one caller. */
const STALL_MS = 20
/**
 * Background refreshes (stale-while-revalidate) can still be running when a scenario ends and
 * the contender is closed under them; a library rejecting those is not a result. Counted and
 * reported with the next reply instead of killing the worker.
 */
let unhandled = 0
process.on('unhandledRejection', () => {
  unhandled++
})

function send(msg: Reply | Hello): void {
  process.send?.(msg)
}

function current(): Contender {
  if (contender === undefined) throw new Error('worker: no contender set up')
  return contender
}

async function until(at: number): Promise<void> {
  const wait = at - Date.now()
  if (wait > 0) await sleep(wait)
}

async function stampede(c: Extract<Command, { type: 'stampede' }>): Promise<StampedeResult> {
  const cache = current()
  let loaderCalls = 0
  let errors = 0
  let wrong = 0
  const loader = async () => {
    loaderCalls++
    await sleep(c.loaderMs)
    return makeValue(42)
  }
  const latenciesMs: number[] = []
  await until(c.at)
  await Promise.all(
    Array.from({ length: c.callers }, async () => {
      const t0 = performance.now()
      try {
        if (!isProfile(await cache.getOrSet(c.key, loader), 42)) wrong++
      } catch {
        errors++
      }
      latenciesMs.push(performance.now() - t0)
    }),
  )
  return { loaderCalls, latenciesMs, errors, wrong, unhandled }
}

async function expiring(c: Extract<Command, { type: 'expiring' }>): Promise<ExpiringResult> {
  const cache = current()
  let loaderCalls = 0
  let calls = 0
  let blocked = 0
  let errors = 0
  let wrong = 0
  const latenciesMs: number[] = []
  const loader = async () => {
    loaderCalls++
    await sleep(c.loaderMs)
    return makeValue(7)
  }
  await until(c.at)
  // A process that cannot run (a long GC, or the machine busy elsewhere) delays every caller at
  // once. A 5 ms ticker records such stalls; a slow call that overlaps one is counted apart, so
  // it is not mistaken for a caller waiting on a loader.
  const stalls: Array<[number, number]> = []
  let last = performance.now()
  const ticker = setInterval(() => {
    const now = performance.now()
    if (now - last >= STALL_MS) stalls.push([last, now])
    last = now
  }, 5)
  const slow: Array<[number, number]> = []
  const end = Date.now() + c.durationMs
  await Promise.all(
    Array.from({ length: c.callers }, async () => {
      // Spread the callers over one interval so the load is steady, not in waves.
      await sleep(Math.random() * c.intervalMs)
      while (Date.now() < end) {
        const t0 = performance.now()
        try {
          if (!isProfile(await cache.getOrSet(c.key, loader), 7)) wrong++
        } catch {
          errors++
        }
        const t1 = performance.now()
        const dt = t1 - t0
        calls++
        latenciesMs.push(dt)
        if (dt >= c.blockedMs) slow.push([t0, t1])
        const rest = c.intervalMs - dt
        if (rest > 0) await sleep(rest)
      }
    }),
  )
  clearInterval(ticker)
  let stalled = 0
  for (const [a, b] of slow) {
    if (stalls.some(([s, e]) => s < b && e > a)) stalled++
    else blocked++
  }
  const maxStallMs = stalls.reduce((m, [s, e]) => Math.max(m, e - s), 0)
  // Let refreshes started in the window finish before anyone closes the contender.
  await sleep(c.loaderMs * 2)
  return { loaderCalls, calls, blocked, stalled, latenciesMs, errors, wrong, unhandled, maxStallMs }
}

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'setup':
      await contender?.close()
      contender = await createContender(cmd.contender, cmd.setup)
      return { config: contender.config }
    case 'stampede':
      return stampede(cmd)
    case 'fill': {
      const cache = current()
      await cache.getOrSet(cmd.key, async () => {
        await sleep(cmd.loaderMs)
        return makeValue(7)
      })
      return null
    }
    case 'expiring':
      return expiring(cmd)
    case 'teardown':
      await contender?.close()
      contender = undefined
      return null
  }
}

process.on('message', (msg: Request) => {
  handle(msg).then(
    (result) => send({ id: msg.id, ok: true, result }),
    (err: unknown) =>
      send({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  )
})
// The runner going away (even by SIGKILL) closes the IPC channel: leave with it.
process.on('disconnect', () => {
  const c = contender
  contender = undefined
  const done = () => process.exit(0)
  if (c === undefined) done()
  else c.close().then(done, done)
})
send({ type: 'ready', pid: process.pid })
