// A separate process running a Herdless cache from the BUILT package, driven over IPC by
// coherence tests: each message is one cache call; the reply carries its result.
import { createCache } from '../../dist/index.js'

const cache = createCache(JSON.parse(process.env.PEER_OPTIONS ?? '{}'))
const stats = { l1: 0, l2: 0, ready: 0, reconnected: 0, rejected: 0, loads: 0 }
cache.on('hit', (e) => {
  stats[e.tier]++
})
cache.on('bus:ready', () => {
  stats.ready++
})
cache.on('bus:reconnected', () => {
  stats.reconnected++
})
cache.on('bus:rejected', () => {
  stats.rejected++
})
cache.on('error', () => {})

process.on('message', async (m) => {
  try {
    let result
    if (m.op === 'getOrSet') {
      result = await cache.getOrSet(
        m.key,
        () => {
          stats.loads++
          return m.value
        },
        m.options,
      )
    } else if (m.op === 'get') result = (await cache.get(m.key)) ?? null
    else if (m.op === 'stats') result = { ...stats, l1Size: cache.l1Size }
    else if (m.op === 'close') {
      await cache.close()
      result = true
    }
    process.send({ id: m.id, ok: true, result })
  } catch (err) {
    process.send({ id: m.id, ok: false, error: String(err) })
  }
})
// The test process went away (crash, timeout): never linger as an orphan.
process.on('disconnect', () => process.exit(0))
process.send({ hello: true })
