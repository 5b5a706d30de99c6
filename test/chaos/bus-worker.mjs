// One application process for the bus chaos tests: a Herdless cache with L1 from the BUILT core,
// readers over every key and one writer over the keys it owns. It counts reads older than a
// write that completed more than BOUND_MS before the read began (the writes of the other process
// arrive through the parent over IPC, so a late IPC message can only hide a stale read, never
// invent one), thrown errors, wrong values, and the bus and topology events it saw.
import { createCache } from '../../packages/core/dist/index.js'

const options = JSON.parse(process.env.CACHE_OPTIONS ?? '{}')
const keys = JSON.parse(process.env.KEYS ?? '[]')
const own = new Set(JSON.parse(process.env.OWN ?? '[]'))
const bound = Number(process.env.BOUND_MS ?? 1000)
const readers = Number(process.env.READERS ?? 8)
const writeEveryMs = Number(process.env.WRITE_EVERY_MS ?? 10)

const cache = createCache(options)
// Never outlive the test process (a crashed or killed runner leaves no orphan load behind).
process.on('disconnect', () => process.exit(1))
/** key -> completed writes [version, completedAt], oldest first (last 50 kept). */
const written = new Map(keys.map((k) => [k, [[0, 0]]]))
const counts = {
  reads: 0,
  l1Hits: 0,
  stale: 0,
  staleWithinBound: 0,
  maxStaleMs: 0,
  errors: 0,
  wrong: 0,
  writes: 0,
  writeErrors: 0,
  unhealthy: {},
  ready: 0,
  maxUnknownMs: 0,
  topology: {},
}
const samples = []
/** Each stretch with L1 unknown: the first reason and how long until the bus was whole again. */
const episodes = []
let unknownSince = 0
let unknownReason = ''
cache.on('hit', (e) => {
  if (e.tier === 'l1') counts.l1Hits++
})
cache.on('error', () => {})
cache.on('bus:unhealthy', (e) => {
  counts.unhealthy[e.reason] = (counts.unhealthy[e.reason] ?? 0) + 1
  if (unknownSince === 0) {
    unknownSince = Date.now()
    unknownReason = e.reason
  }
})
cache.on('bus:ready', () => {
  counts.ready++
  if (unknownSince > 0) {
    counts.maxUnknownMs = Math.max(counts.maxUnknownMs, Date.now() - unknownSince)
    if (episodes.length < 30) episodes.push(`${unknownReason}:${Date.now() - unknownSince}ms`)
  }
  unknownSince = 0
})
for (const ev of ['topology:changed', 'topology:degraded', 'topology:recovered', 'topology:scale-needed']) {
  cache.on(ev, () => {
    counts.topology[ev] = (counts.topology[ev] ?? 0) + 1
  })
}

const record = (key, version, at) => {
  const list = written.get(key)
  if (list === undefined) return
  list.push([version, at])
  if (list.length > 50) list.shift()
}
const latest = (key) => {
  const list = written.get(key) ?? [[0, 0]]
  return list[list.length - 1][0]
}

let running = false
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function reader(i) {
  let n = i
  while (running) {
    const key = keys[n++ % keys.length]
    const started = Date.now()
    counts.reads++
    try {
      const v = await cache.getOrSet(key, () => `${key}|${latest(key)}`)
      const m = typeof v === 'string' ? /^(.*)\|(\d+)$/.exec(v) : null
      if (m === null || m[1] !== key) counts.wrong++
      else {
        const got = Number(m[2])
        // The first completed write newer than what we got, if it completed before this read began.
        const newer = (written.get(key) ?? []).find(([ver, at]) => ver > got && at > 0 && at < started)
        if (newer !== undefined) {
          const age = started - newer[1]
          if (age > bound) {
            counts.stale++
            if (samples.length < 5) samples.push(`${key} got v${got}, v${newer[0]} done ${age} ms before`)
          } else counts.staleWithinBound++
          counts.maxStaleMs = Math.max(counts.maxStaleMs, age)
        }
      }
    } catch {
      counts.errors++
    }
    await sleep(1)
  }
}

async function writer() {
  const mine = keys.filter((k) => own.has(k))
  let n = 0
  while (running && mine.length > 0) {
    const key = mine[n++ % mine.length]
    const version = latest(key) + 1
    // Reserve the version at once: a write that fails may still have landed.
    record(key, version, 0)
    try {
      await cache.set(key, `${key}|${version}`, { failOpen: false })
      const at = Date.now()
      const list = written.get(key)
      const entry = list?.find(([v]) => v === version)
      if (entry) entry[1] = at
      counts.writes++
      process.send?.({ write: [key, version, at] })
    } catch {
      counts.writeErrors++
    }
    await sleep(writeEveryMs)
  }
}

let loops = []
process.on('message', async (m) => {
  if (m.write) {
    const [key, version, at] = m.write
    const list = written.get(key)
    if (list && !list.some(([v]) => v === version)) {
      record(key, version, at)
      list.sort((a, b) => a[0] - b[0])
    }
  } else if (m.op === 'start') {
    running = true
    loops = [...Array.from({ length: readers }, (_, i) => reader(i * 7)), writer()]
  } else if (m.op === 'stop') {
    running = false
    await Promise.all(loops)
    if (unknownSince > 0) counts.maxUnknownMs = Math.max(counts.maxUnknownMs, Date.now() - unknownSince)
    const last = Object.fromEntries(
      [...written].map(([k, l]) => [k, l.filter(([, at]) => at > 0).pop() ?? [0, 0]]),
    )
    process.send?.({ result: { counts, samples, last, episodes } })
    await cache.close()
    process.exit(0)
  }
})

const ready = new Promise((resolve) => {
  cache.once('bus:ready', resolve)
  setTimeout(resolve, 15_000).unref()
})
await ready
// Every own key written once before the readers start: a reader's loader then never races the
// first write (a load that began before a write and stored after it is the entry fence's job,
// tested in test/consistency, not the bus's).
for (const key of keys.filter((k) => own.has(k))) {
  record(key, 1, 0)
  await cache.set(key, `${key}|1`, { failOpen: false })
  const at = Date.now()
  const entry = written.get(key)?.find(([v]) => v === 1)
  if (entry) entry[1] = at
  process.send?.({ write: [key, 1, at] })
}
process.send?.({ hello: true })
