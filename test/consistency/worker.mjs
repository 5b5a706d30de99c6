// One process of the consistency checker's fleet: its own cache (L1 + bus), random operations
// on a few shared keys from several concurrent loops, every operation recorded with its start
// and end. It imports the BUILT core given by path in the config (packages/core/dist, or an old
// build to show the checker finds the old protocol's bug), never the test's source alias.
//
// argv[2]: JSON config (WorkerConfig in harness.ts). Protocol, one JSON object per line:
//   stdout  {type:'ready'}  {type:'done', ops}  (the history goes to cfg.out as JSON)
//   stdin   'go' (start)    'stop' (finish early)
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const { createCache } = await import(pathToFileURL(cfg.core).href)

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

// A wall clock with sub-millisecond resolution, monotonic within the process: hrtime anchored
// on the instant Date.now() ticks over, so every process on the host agrees to a few µs. Being
// descheduled between the tick and the hrtime read only makes an estimate smaller: keep the
// largest of five (the same code is in harness.ts).
const hr0 = process.hrtime.bigint()
const hr = () => Number(process.hrtime.bigint() - hr0) / 1e6
let offset = Number.NEGATIVE_INFINITY
for (let i = 0; i < 5; i++) {
  const d0 = Date.now()
  let d = Date.now()
  while (d === d0) d = Date.now()
  offset = Math.max(offset, d - hr())
}
const now = () => offset + hr()

// mulberry32: small, seeded, good enough to pick operations.
let seed = cfg.seed >>> 0
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (list) => list[Math.floor(rand() * list.length)]

const history = []
const P = cfg.id
const record = (op) => {
  op.p = P
  history.push(op)
  return op
}

const db = new Redis(cfg.db, { maxRetriesPerRequest: 2 })
const cache = createCache({
  redis: cfg.redis,
  prefix: cfg.prefix,
  l1: { max: 1000 },
  bus: cfg.sharded ? { sharded: true } : true,
  ttl: cfg.ttl ?? '1m',
  staleTtl: cfg.staleTtl ?? '1m',
  // A GET slower than the default 250 ms on a busy 2-core box must not turn into a fail-open
  // answer here (the checker excludes invalidations that met Redis errors, and counts them).
  redisTimeout: cfg.redisTimeout ?? '2s',
})

// Events the checker needs: Redis trouble (an invalidation that met it proves nothing),
// lock timeouts and bus gaps (rule 5 allows an extra load for them), fenced writes (a count).
const counts = { fenced: 0, written: 0, busReconnected: 0 }
cache.on('error', ({ error, operation, key }) =>
  record({ type: 'event', name: 'error', at: now(), key, detail: `${error?.code}:${operation}` }),
)
cache.on('lock:timeout', ({ key }) => record({ type: 'event', name: 'lock:timeout', at: now(), key }))
cache.on('lock:lost', ({ key }) => record({ type: 'event', name: 'lock:lost', at: now(), key }))
cache.on('bus:reconnected', () => {
  counts.busReconnected++
  record({ type: 'event', name: 'bus:reconnected', at: now() })
})
cache.on('write', ({ fenced }) => {
  if (fenced) counts.fenced++
  else counts.written++
})

// An old build without getOrSetResult: getOrSet, every answer counted as fresh.
const oldApi = typeof cache.getOrSetResult !== 'function'
// Event-loop stalls (a descheduled process on a busy host): while stalled a process reads no bus
// message, and when it resumes its timers (the next operation, an L1 hit) run before the socket
// is read. The checker adds a reader's stalls to the bus window.
let tick = now()
setInterval(() => {
  const t = now()
  if (t - tick > 25) record({ type: 'event', name: 'stall', at: tick, until: t })
  tick = t
}, 5).unref()

const keys = cfg.keys
const cold = new Set(cfg.cold ?? [])
const tagsOf = cfg.tags
const options = Object.fromEntries(
  keys.map((k) => [k, (tagsOf[k] ?? []).length > 0 ? { tags: tagsOf[k] } : {}]),
)
const allTags = [...new Set(keys.flatMap((k) => tagsOf[k] ?? []))]
const globRe = (glob) => new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*')}$`)

/** The loader of one read: a load it starts records when that read began (before any lease). */
function loaderFor(key, read) {
  return async () => {
    const op = record({ type: 'load', key, start: now(), readStart: read.start })
    try {
      const v = Number((await db.get(`db:${key}`)) ?? 0)
      op.read = now()
      op.value = v
      // The worst case: an old value returned late.
      await sleep(rand() * cfg.loaderMaxMs)
      if (rand() < cfg.loaderFailRate) throw new Error('loader failed (on purpose)')
      return v
    } catch (err) {
      op.threw = true
      throw err
    } finally {
      op.end = now()
    }
  }
}

const errorCode = (err) => err?.code ?? String(err?.message ?? err).slice(0, 80)

/** Bump the database for `covered` keys, then run the invalidation, recording both. */
async function invalidation(type, covered, call, extra = {}) {
  const versions = {}
  for (const k of covered) versions[k] = await db.incr(`db:${k}`)
  const op = record({ type, keys: covered, versions, ...extra, start: now(), dstart: Date.now() })
  try {
    await call(versions)
  } catch (err) {
    op.error = errorCode(err)
  }
  op.end = now()
  op.dend = Date.now()
}

const KINDS = ['read', 'get', 'getMany', 'set', 'delete', 'expire', 'tags', 'pattern', 'clear']
/** An operation kind drawn by its weight. */
function choose() {
  let r = rand() * cfg.weights.total
  for (const kind of KINDS) {
    r -= cfg.weights[kind] ?? 0
    if (r < 0) return kind
  }
  return 'read'
}

async function operation() {
  const kind = choose()
  // Cold keys are read as often as the others but rarely invalidated: an invalidation the bus
  // lost would leave another process's L1 copy stale for long, not just until the next one.
  const hot = keys.filter((k) => !cold.has(k))
  const key = kind === 'read' || kind === 'get' || rand() < cfg.coldShare ? pick(keys) : pick(hot)
  if (kind === 'read') {
    const op = record({ type: 'read', key, start: now(), dstart: Date.now() })
    try {
      if (oldApi) {
        op.value = await cache.getOrSet(key, loaderFor(key, op), options[key])
        op.source = 'unknown'
      } else {
        const res = await cache.getOrSetResult(key, loaderFor(key, op), options[key])
        op.value = res.value
        op.source = res.source
      }
    } catch (err) {
      op.error = errorCode(err)
    }
    op.end = now()
    op.dend = Date.now()
  } else if (kind === 'get') {
    const op = record({ type: 'get', key, start: now(), dstart: Date.now() })
    try {
      op.value = await cache.get(key)
      op.source = 'get'
    } catch (err) {
      op.error = errorCode(err)
    }
    op.end = now()
    op.dend = Date.now()
  } else if (kind === 'getMany') {
    // One recorded read per key, sharing the call's start and end.
    const some = keys.filter(() => rand() < 0.6)
    const list = some.length > 0 ? some : [key]
    const start = now()
    const dstart = Date.now()
    let values
    let error
    try {
      values = await cache.getMany(list)
    } catch (err) {
      error = errorCode(err)
    }
    const end = now()
    for (const [i, k] of list.entries()) {
      record({
        type: 'get',
        key: k,
        start,
        end,
        dstart,
        dend: Date.now(),
        source: 'getMany',
        value: values?.[i],
        error,
      })
    }
  } else if (kind === 'set') {
    await invalidation('set', [key], (v) => cache.set(key, v[key], options[key]))
  } else if (kind === 'delete') {
    await invalidation('delete', [key], () => cache.delete(key))
  } else if (kind === 'expire') {
    await invalidation('expire', [key], () => cache.expire(key))
  } else if (kind === 'tags' && allTags.length > 0) {
    const tag = pick(allTags)
    const covered = keys.filter((k) => (tagsOf[k] ?? []).includes(tag))
    await invalidation('tags', covered, () => cache.invalidateTags(tag), { tag })
  } else if (kind === 'pattern') {
    const pattern = pick(cfg.patterns)
    const re = globRe(pattern)
    const covered = keys.filter((k) => re.test(k))
    await invalidation('pattern', covered, () => cache.invalidatePattern(pattern), { pattern })
  } else if (kind === 'clear') {
    await invalidation('clear', [...keys], () => cache.clear())
  }
}

const lines = createInterface({ input: process.stdin })
let go
const started = new Promise((resolve) => (go = resolve))
let stopping = false
lines.on('line', (line) => {
  const cmd = line.trim()
  if (cmd === 'go') go()
  if (cmd === 'stop') stopping = true
})

// Connected (and the bus subscribed) before 'ready', so every process starts together.
await cache.get('warmup')
await db.ping()
// The bus subscribes right after connecting; give it a moment (its L1 is unused until then).
await sleep(200)
send({ type: 'ready' })
await started
const deadline = Date.now() + cfg.durationMs
await Promise.all(
  Array.from({ length: cfg.concurrency }, async () => {
    while (!stopping && Date.now() < deadline) {
      await operation()
      await sleep(rand() * cfg.pauseMaxMs)
    }
  }),
)
// Let background refreshes land (their loads are part of the history), then close.
await sleep(300)
await cache.close()
await db.quit().catch(() => {})
lines.close()
writeFileSync(cfg.out, JSON.stringify({ p: P, counts, history }))
process.stdout.write(`${JSON.stringify({ type: 'done', ops: history.length, counts })}\n`, () =>
  process.exit(0),
)
