// 1,000 concurrent requests for one cold key against a 200 ms "database", then again after the
// key went stale: Herdless beside a plain cache-aside. Embedded store by default; set
// REDIS_URL=redis://127.0.0.1:6379 to run the same against Redis.
import { createCache } from '@herdless/core'

const REQUESTS = 1_000
const LOAD_MS = 200
const TTL = 300

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
}

function fakeDb() {
  const db = { calls: 0 }
  db.findUser = async (id) => {
    db.calls++
    await sleep(LOAD_MS)
    return { id, name: 'Ada', loadedAt: Date.now() }
  }
  return db
}

/** The cache-aside most apps write by hand: check, miss, load, store. No coordination. */
function plainCacheAside() {
  const map = new Map()
  return async (key, loader) => {
    const hit = map.get(key)
    if (hit && hit.until > Date.now()) return hit.value
    const value = await loader()
    map.set(key, { value, until: Date.now() + TTL })
    return value
  }
}

async function wave(get, db) {
  const before = db.calls
  const times = []
  await Promise.all(
    Array.from({ length: REQUESTS }, async () => {
      const t = performance.now()
      await get()
      times.push(performance.now() - t)
    }),
  )
  // A stale answer's refresh runs in the background: count it once it has landed.
  await sleep(LOAD_MS + 50)
  return { loads: db.calls - before, p50: pct(times, 50), p99: pct(times, 99) }
}

async function run() {
  const redis = process.env.REDIS_URL
  const cache = createCache({
    ...(redis ? { redis, prefix: `demo-${process.pid}` } : {}),
    ttl: TTL,
    staleTtl: '1m',
    earlyRefresh: false,
  })
  let stale = 0
  cache.on('stale', () => stale++)
  const herdDb = fakeDb()
  const plainDb = fakeDb()
  const plain = plainCacheAside()
  const key = 'user:42'

  const rows = []
  for (const phase of ['cold key', 'after expiry']) {
    if (phase === 'after expiry') {
      process.stderr.write(`waiting ${TTL + 100} ms for the entry to expire...\n`)
      await sleep(TTL + 100)
    }
    process.stderr.write(
      `${phase}: ${REQUESTS} concurrent requests through Herdless, then the plain cache...\n`,
    )
    const staleBefore = stale
    const h = await wave(() => cache.getOrSet(key, () => herdDb.findUser(42)), herdDb)
    const p = await wave(() => plain(key, () => plainDb.findUser(42)), plainDb)
    rows.push(['herdless', phase, h, stale - staleBefore], ['plain cache-aside', phase, p, 0])
  }
  await cache.clear()
  await cache.close()

  const store = redis ? `Redis (${redis})` : 'embedded memory store'
  console.log(`\n${REQUESTS} concurrent requests per wave, ${LOAD_MS} ms loader, ttl ${TTL} ms, ${store}\n`)
  const head = ['cache', 'wave', 'requests', 'loader calls', 'stale served', 'p50 ms', 'p99 ms']
  const body = rows.map(([name, phase, r, st]) => [
    name,
    phase,
    String(REQUESTS),
    String(r.loads),
    String(st),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  console.log(line(head))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of body) console.log(line(r))
  console.log(
    '\nHerdless ran the loader once per wave and answered the expired wave from the stale copy at once while one call refreshed it.',
  )
  console.log(
    'On the cold key its p50 is a little above the plain one: its callers wait for the one load and then for the\n' +
      'entry to be read back and decoded (and, with Redis, for the lock round trips), where every plain caller ran\n' +
      'its own load. The price of one loader call instead of one per request is that small wait.',
  )
}

run().catch((err) => {
  console.error(err)
  process.exit(1)
})
