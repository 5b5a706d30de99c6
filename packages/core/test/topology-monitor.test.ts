import {
  parseInfo,
  type RedisServer,
  redisCommand,
  sharedCluster,
  sharedRedis,
  startRedis,
  uniquePrefix,
} from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../src/index'
import { TopologyMonitor } from '../src/tools'
import { record, until } from './topology-helpers'

/** `cmdstat_<name>` calls, read with INFO commandstats (which itself counts as one INFO, afterwards). */
async function commandCalls(port: number, name: string, password?: string): Promise<number> {
  const text = String(await redisCommand(port, ['INFO', 'commandstats'], { password }))
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(text)
  return m ? Number(m[1]) : 0
}

describe('TopologyMonitor on the shared 3+3 cluster', () => {
  let cache: Cache
  let events: ReturnType<typeof record>

  beforeAll(() => {
    cache = createCache({
      redis: { cluster: sharedCluster().startupNodes },
      prefix: uniquePrefix(),
      topology: { pollInterval: 50 },
    })
    events = record(cache)
  })
  afterAll(async () => {
    await cache.close()
  })

  it('reports every node, role, slot range and memory figure, and emits one snapshot per poll', async () => {
    await until('4 polls', () => events.snapshots >= 4)
    const snap = cache.topology
    if (snap === undefined) throw new Error('no snapshot')
    expect(snap.mode).toBe('cluster')
    expect(snap.state).toBe('ok')
    expect(snap.slotsAssigned).toBe(16_384)
    expect(snap.slotsFail).toBe(0)

    const expected = sharedCluster().nodes
    expect(snap.nodes.map((n) => n.id).sort()).toEqual(expected.map((n) => n.id).sort())
    for (const want of expected) {
      const got = snap.nodes.find((n) => n.id === want.id)
      expect(got?.address).toBe(`${want.host}:${want.port}`)
      expect(got?.role).toBe(want.role)
      expect(got?.reachable).toBe(true)
      if (want.role === 'primary') expect(got?.slots).toEqual(want.slots)
      else expect(got?.primaryId).toBe(want.primaryId)
      // Replicas are measured once the client connects to them (Redis 7 leaves a replica that
      // never received data out of CLUSTER SLOTS, so ioredis may not have); primaries always.
      if (want.role === 'primary') {
        expect(got?.usedMemory).toBeGreaterThan(0)
        expect(got?.rss).toBeGreaterThan(0)
        expect(got?.fragmentationRatio).toBeGreaterThan(0)
      }
    }
    const primaries = snap.nodes.filter((n) => n.role === 'primary')
    expect(primaries).toHaveLength(3)
    expect(primaries.flatMap((n) => n.slots).reduce((a, [s, e]) => a + e - s + 1, 0)).toBe(16_384)

    // used_memory matches what the node itself says (same order of magnitude: it moves between reads).
    const one = expected.find((n) => n.role === 'primary')
    if (one === undefined) throw new Error('no primary')
    const info = parseInfo(String(await redisCommand(one.port, ['INFO', 'memory'])))
    const mine = snap.nodes.find((n) => n.id === one.id)
    expect(mine?.maxMemory).toBe(Number(info.maxmemory))
    expect(Math.abs((mine?.usedMemory ?? 0) - Number(info.used_memory))).toBeLessThan(
      Number(info.used_memory) / 2,
    )

    // A steady cluster: one 'changed' (the first snapshot), never degraded, no errors.
    expect(events.changed).toHaveLength(1)
    expect(events.changed[0]?.previous).toBeUndefined()
    expect(events.degraded).toHaveLength(0)
    expect(events.recovered).toHaveLength(0)
    expect(events.scale).toHaveLength(0)
    expect(events.errors).toEqual([])
  })

  it('is shared by namespaces (one monitor per cache)', () => {
    expect(cache.namespace('tenant').topology).toBe(cache.topology)
    expect(cache.writeGuard).toBeUndefined()
  })
})

describe('TopologyMonitor on a standalone server', () => {
  it('reports one primary covering every slot (shared server, read-only)', async () => {
    const { host, port, url } = sharedRedis()
    const cache = createCache({ redis: url, prefix: uniquePrefix(), topology: { pollInterval: 50 } })
    const events = record(cache)
    await until('2 polls', () => events.snapshots >= 2)
    const snap = cache.topology
    expect(snap?.mode).toBe('standalone')
    expect(snap?.state).toBe('ok')
    expect(snap?.nodes).toHaveLength(1)
    expect(snap?.nodes[0]?.address).toBe(`${host}:${port}`)
    expect(snap?.nodes[0]?.slots).toEqual([[0, 16_383]])
    expect(snap?.nodes[0]?.usedMemory).toBeGreaterThan(0)
    expect(events.changed).toHaveLength(1)
    expect(events.errors).toEqual([])
    await cache.close()
    // close() stops the poll timer: no snapshot after it.
    const after = events.snapshots
    await new Promise((r) => setTimeout(r, 200))
    expect(events.snapshots).toBe(after)
  })

  it('can be used on its own with any ioredis client', async () => {
    const client = new Redis(sharedRedis().url)
    const seen: string[] = []
    const monitor = new TopologyMonitor(client, { pollInterval: '1h', emit: (name) => seen.push(name) })
    try {
      const snap = await monitor.refresh()
      expect(snap?.state).toBe('ok')
      expect(monitor.polls).toBe(1)
      expect(seen).toEqual(['topology:snapshot', 'topology:changed'])
      // Concurrent refreshes share one poll.
      await Promise.all([monitor.refresh(), monitor.refresh(), monitor.refresh()])
      expect(monitor.polls).toBe(2)
    } finally {
      await monitor.stop()
      client.disconnect()
    }
  })
})

describe('memory signals on a private server (CONFIG SET maxmemory)', () => {
  let server: RedisServer
  let raw: Redis
  const blobs: string[] = []

  beforeAll(async () => {
    server = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] })
    raw = new Redis(server.url)
  })
  afterAll(async () => {
    raw?.disconnect()
    await server?.stop()
  })

  async function usedMemory(): Promise<number> {
    return Number(parseInfo(await raw.info('memory')).used_memory)
  }

  /** Write 64 KB blobs until used_memory / maxmemory exceeds `ratio`. */
  async function fillTo(ratio: number, max: number): Promise<void> {
    const blob = Buffer.alloc(64 * 1024, 7)
    while ((await usedMemory()) / max <= ratio) {
      const k = `fill:${blobs.length}`
      blobs.push(k)
      await raw.set(k, blob)
    }
  }

  async function drain(): Promise<void> {
    if (blobs.length > 0) await raw.del(...blobs.splice(0))
  }

  it('emits topology:scale-needed after 3 polls in a row above 0.75, once per episode', async () => {
    const max = (await usedMemory()) + 8 * 1024 * 1024
    await raw.config('SET', 'maxmemory', String(max))
    const cache = createCache({ redis: server.url, prefix: uniquePrefix(), topology: { pollInterval: 30 } })
    const events = record(cache)
    try {
      await until('first poll', () => events.snapshots >= 1)
      expect(events.scale).toHaveLength(0)

      // Counted from before the fill: a poll during the fill may already see the node above 0.75.
      const before = events.snapshots
      await fillTo(0.78, max)
      await until('scale-needed', () => events.scale.length === 1)
      // At least 3 polls saw the node above 0.75 (the 1st may have straddled the fill).
      expect(events.snapshots - before).toBeGreaterThanOrEqual(3)
      expect(events.scale[0]?.polls).toBe(3)
      expect(events.scale[0]?.node.maxMemory).toBe(max)
      expect(events.scale[0]?.node.memoryRatio).toBeGreaterThan(0.75)

      // Still high: no repeat within the same episode.
      const mark = events.snapshots
      await until('5 more polls', () => events.snapshots >= mark + 5)
      expect(events.scale).toHaveLength(1)

      // Below, then above again: a new episode, a new signal.
      await drain()
      const low = events.snapshots
      await until('2 polls below', () => events.snapshots >= low + 2)
      expect(cache.topology?.nodes[0]?.memoryRatio).toBeLessThan(0.75)
      await fillTo(0.78, max)
      await until('second scale-needed', () => events.scale.length === 2)
      expect(events.degraded).toHaveLength(0)
      expect(events.errors).toEqual([])
    } finally {
      await cache.close()
      await drain()
    }
  })

  it('write guard: skips writes to a node above 0.85 from cached figures, caller still gets the value', async () => {
    const max = (await usedMemory()) + 8 * 1024 * 1024
    await raw.config('SET', 'maxmemory', String(max))
    const prefix = uniquePrefix()
    // One poll at start, then none for an hour: any INFO during the writes would be per-write.
    const cache = createCache({
      redis: server.url,
      prefix,
      topology: { pollInterval: '1h' },
      writeGuard: { maxMemoryRatio: 0.85 },
    })
    const events = record(cache)
    try {
      // Below the ratio: writes go through.
      expect(await cache.getOrSet('ok', () => 'v')).toBe('v')
      await until('first poll', () => events.snapshots >= 1)
      expect(await raw.exists(`${prefix}:{ok}`)).toBe(1)

      await fillTo(0.87, max)
      const cache2 = createCache({
        redis: server.url,
        prefix,
        topology: { pollInterval: '1h' },
        writeGuard: true,
      })
      const events2 = record(cache2)
      try {
        await until('a poll of the full node', () => events2.snapshots >= 1)
        expect(cache2.topology?.nodes[0]?.memoryRatio).toBeGreaterThan(0.85)
        const infoBefore = await commandCalls(server.port, 'info')
        let loads = 0
        const values = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            cache2.getOrSet(`g${i}`, () => {
              loads++
              return i
            }),
          ),
        )
        expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i))
        expect(loads).toBe(50)
        await cache2.set('s', 1)
        // Every write skipped, counted and emitted; nothing reached Redis.
        expect(cache2.writeGuard?.skipped).toBe(51)
        expect(events2.skipped).toHaveLength(51)
        expect(
          events2.skipped.every((e) => e.reason === 'write-guard' && e.error.code === 'E_WRITE_SKIPPED'),
        ).toBe(true)
        expect(events2.errors.filter((e) => e.error.code === 'E_WRITE_SKIPPED')).toHaveLength(51)
        expect(await raw.exists(`${prefix}:{g0}`, `${prefix}:{g49}`, `${prefix}:{s}`)).toBe(0)
        // Never an INFO per write: only our own INFO commandstats ran in between.
        expect((await commandCalls(server.port, 'info')) - infoBefore).toBe(1)
        // The first cache still holds its pre-fill snapshot (under the ratio): it writes.
        await cache.set('old-view', 1)
        expect(cache.writeGuard?.skipped).toBe(0)
        expect(await raw.exists(`${prefix}:{old-view}`)).toBe(1)
      } finally {
        await cache2.close()
      }
    } finally {
      await cache.close()
      await drain()
    }
  })

  it('a refused INFO (ACL) is reported once; polling and the cache go on', async () => {
    await raw.call('ACL', ['SETUSER', 'noinfo', 'on', '>pw-noinfo', '~*', '&*', '+@all', '-info'])
    const url = `redis://noinfo:pw-noinfo@${server.host}:${server.port}`
    const cache = createCache({
      redis: url,
      prefix: uniquePrefix(),
      topology: { pollInterval: 30 },
      writeGuard: true,
    })
    const events = record(cache)
    try {
      await until('5 polls', () => events.snapshots >= 5)
      const topo = events.errors.filter((e) => e.operation === 'topology')
      expect(topo).toHaveLength(1)
      expect(topo[0]?.error.code).toBe('E_STORE_UNAVAILABLE')
      expect(topo[0]?.error.message).toMatch(/refused INFO memory.*\+info/)
      const node = cache.topology?.nodes[0]
      expect(node?.reachable).toBe(true)
      expect(node?.maxMemory).toBe(0)
      expect(events.degraded).toHaveLength(0)
      let loads = 0
      expect(await cache.getOrSet('k', () => ++loads)).toBe(1)
      expect(await cache.getOrSet('k', () => ++loads)).toBe(1)
      expect(cache.writeGuard?.skipped).toBe(0)
    } finally {
      await cache.close()
      await raw.call('ACL', ['DELUSER', 'noinfo'])
    }
  })

  it('a poll is bounded by its timeout: a frozen server is degraded, then recovered', async () => {
    const cache = createCache({ redis: server.url, prefix: uniquePrefix(), topology: { pollInterval: 50 } })
    const events = record(cache)
    try {
      await until('first poll', () => events.snapshots >= 1)
      // DEBUG SLEEP freezes the whole server for 2.5 s; polls time out after 1 s each.
      const before = events.snapshots
      const sleeper = redisCommand(server.port, ['DEBUG', 'SLEEP', '2.5'])
      await until('degraded', () => events.degraded.length === 1, 5_000)
      expect(events.degraded[0]?.reasons).toContain('unreachable')
      expect(events.degraded[0]?.snapshot.nodes[0]?.reachable).toBe(false)
      await sleeper
      // Polls never overlap: while frozen, one poll per timeout (1 s), not one per 50 ms.
      expect(events.snapshots - before).toBeLessThanOrEqual(4)
      await until('recovered', () => events.recovered.length === 1, 5_000)
      // One error event for the silent node, not one per failed poll.
      const topo = events.errors.filter((e) => e.operation === 'topology')
      expect(topo).toHaveLength(1)
      expect(topo[0]?.error.code).toBe('E_STORE_UNAVAILABLE')
      expect(topo[0]?.error.message).toMatch(/did not answer/)
      expect(cache.topology?.state).toBe('ok')
    } finally {
      await cache.close()
    }
  })
})
