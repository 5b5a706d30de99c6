// 1,000 concurrent requests for one cold key against a 200 ms "database", then again after the
// key went stale: Herdless beside a plain cache-aside. Embedded store (and a Map for the plain
// column) by default; set REDIS_URL=redis://127.0.0.1:6379 to run both against that Redis.
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
  return {
    get: async (key, loader) => {
      const hit = map.get(key)
      if (hit && hit.until > Date.now()) return hit.value
      const value = await loader()
      map.set(key, { value, until: Date.now() + TTL })
      return value
    },
    close: async () => {},
  }
}

/**
 * The same hand-written cache-aside on the same Redis Herdless uses (GET, then on a miss load and
 * SET ... PX), so the comparison is fair: both columns pay the round trips and the JSON/msgpack
 * decode. ioredis is imported only here, so the embedded default never touches Redis.
 */
async function plainRedisCacheAside(url) {
  const { Redis } = await import('ioredis')
  const redis = new Redis(url, { lazyConnect: true })
  await redis.connect()
  const prefix = `demo-plain-${process.pid}:`
  const written = new Set()
  return {
    get: async (key, loader) => {
      const hit = await redis.get(prefix + key)
      if (hit !== null) return JSON.parse(hit)
      const value = await loader()
      await redis.set(prefix + key, JSON.stringify(value), 'PX', TTL)
      written.add(prefix + key)
      return value
    },
    close: async () => {
      if (written.size > 0) await redis.del(...written)
      await redis.quit()
    },
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
  const plain = redis ? await plainRedisCacheAside(redis) : plainCacheAside()
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
    const p = await wave(() => plain.get(key, () => plainDb.findUser(42)), plainDb)
    rows.push(['herdless', phase, h, stale - staleBefore], ['plain cache-aside', phase, p, 0])
  }
  await cache.clear()
  await cache.close()
  await plain.close()

  const store = redis
    ? `Redis (${redis}), both columns`
    : 'embedded memory store (Herdless) and an in-process Map (plain)'
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
  const [hCold, pCold] = [rows[0][2], rows[1][2]]
  if (hCold.p50 > pCold.p50) {
    console.log(
      'On the cold key its p50 is a little above the plain one: its callers wait for the one load and then for the\n' +
        'entry to be read back and decoded (and, with Redis, for the lock round trips), where every plain caller ran\n' +
        'its own load. The price of one loader call instead of one per request is that small wait.',
    )
  } else {
    console.log(
      `On the cold key its p50 is below the plain one: each of the ${REQUESTS} plain callers ran its own load and then\n` +
        'its own SET, queued on one Redis connection, where Herdless wrote the entry once.',
    )
  }
}

run().catch((err) => {
  console.error(err)
  process.exit(1)
})
