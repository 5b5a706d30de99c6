import { parseInfo, type RedisCluster, redisCommand, startCluster, uniquePrefix } from '@herdless/test-utils'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../src/index'
import { keySlot } from '../src/tools'
import { record, until } from './topology-helpers'

const inRanges = (slot: number, ranges: ReadonlyArray<readonly [number, number]>) =>
  ranges.some(([a, b]) => slot >= a && slot <= b)

/** A private 3+3 cluster: these tests fill a node, change ACLs, kill and restart a primary. */
describe('TopologyMonitor and write guard on a private cluster', () => {
  let cluster: RedisCluster
  let raw: Cluster

  beforeAll(async () => {
    cluster = await startCluster()
    raw = new Cluster(cluster.startupNodes)
  })
  afterAll(async () => {
    raw?.disconnect()
    await cluster?.stop()
  })

  it('write guard: skips only writes whose slot lives on the full primary', async () => {
    const [full] = await cluster.primaries()
    if (full === undefined) throw new Error('no primary')
    const used = Number(parseInfo(String(await redisCommand(full.port, ['INFO', 'memory']))).used_memory)
    const max = used + 8 * 1024 * 1024
    await redisCommand(full.port, ['CONFIG', 'SET', 'maxmemory', String(max)])
    await redisCommand(full.port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
    // Fill that primary past 0.87 with keys hashed to its slots.
    const blob = Buffer.alloc(64 * 1024, 1)
    const fill: string[] = []
    for (let i = 0; fill.length < 2_000; i++) {
      const k = `fill:{${i}}`
      if (!inRanges(keySlot(k), full.slots)) continue
      fill.push(k)
      await raw.set(k, blob)
      if (fill.length % 10 === 0) {
        const info = parseInfo(String(await redisCommand(full.port, ['INFO', 'memory'])))
        if (Number(info.used_memory) / max > 0.87) break
      }
    }

    const prefix = uniquePrefix()
    const cache = createCache({
      redis: { cluster: cluster.startupNodes },
      prefix,
      topology: { pollInterval: 100 },
      writeGuard: { maxMemoryRatio: 0.85 },
    })
    const events = record(cache)
    try {
      await until(
        'a snapshot with the full node',
        () => (cache.topology?.nodes.find((n) => n.id === full.id)?.memoryRatio ?? 0) > 0.85,
      )
      const keys = Array.from({ length: 90 }, (_, i) => `user:${i}`)
      const onFull = keys.filter((k) => inRanges(keySlot(cache.entryKey(k)), full.slots))
      expect(onFull.length).toBeGreaterThan(10)
      expect(onFull.length).toBeLessThan(keys.length)
      let loads = 0
      const load = (k: string) => {
        loads++
        return `v-${k}`
      }
      const values = await Promise.all(keys.map((k) => cache.getOrSet(k, () => load(k))))
      expect(values).toEqual(keys.map((k) => `v-${k}`))
      expect(loads).toBe(keys.length)

      expect(cache.writeGuard?.skipped).toBe(onFull.length)
      expect(events.skipped.map((e) => e.key).sort()).toEqual([...onFull].sort())
      expect(events.skipped.every((e) => e.reason === 'write-guard')).toBe(true)
      expect(events.skipped[0]?.error.message).toContain(`${full.host}:${full.port}`)
      const stored = await Promise.all(keys.map((k) => raw.exists(cache.entryKey(k))))
      keys.forEach((k, i) => {
        expect(stored[i]).toBe(onFull.includes(k) ? 0 : 1)
      })
      // Keys off the full node are hits now; keys on it load again (they were never stored).
      for (const k of keys) await cache.getOrSet(k, () => load(k))
      expect(loads).toBe(keys.length + onFull.length)
    } finally {
      await cache.close()
      for (let i = 0; i < fill.length; i += 100)
        await Promise.all(fill.slice(i, i + 100).map((k) => raw.del(k)))
      await redisCommand(full.port, ['CONFIG', 'SET', 'maxmemory', '0'])
    }
  })

  it('CLUSTER NODES / CLUSTER INFO refused by ACL: one error each, snapshot from the slot map', async () => {
    const nodes = await cluster.nodes()
    const acl = ['ACL', 'SETUSER', 'cacheonly', 'on', '>pw-cacheonly', '~*', '&*', '+@all', '-cluster|nodes']
    await Promise.all(nodes.map((n) => redisCommand(n.port, [...acl, '-cluster|info'])))
    const cache = createCache({
      redis: {
        cluster: cluster.startupNodes,
        redisOptions: { username: 'cacheonly', password: 'pw-cacheonly' },
        // ioredis's own ready check is CLUSTER INFO: it must be off for a user without it.
        enableReadyCheck: false,
      },
      prefix: uniquePrefix(),
      topology: { pollInterval: 50 },
    })
    const events = record(cache)
    try {
      await until('5 polls', () => events.snapshots >= 5)
      const topo = events.errors.filter((e) => e.operation === 'topology')
      expect(topo.map((e) => /refused (CLUSTER \w+)/.exec(e.error.message)?.[1]).sort()).toEqual([
        'CLUSTER INFO',
        'CLUSTER NODES',
      ])
      const snap = cache.topology
      expect(snap?.state).toBe('ok')
      expect(snap?.slotsAssigned).toBe(16_384)
      const primaries = snap?.nodes.filter((n) => n.role === 'primary') ?? []
      expect(primaries.map((n) => n.address).sort()).toEqual(
        (await cluster.primaries()).map((n) => `${n.host}:${n.port}`).sort(),
      )
      expect(primaries.every((n) => n.usedMemory > 0 && n.reachable)).toBe(true)
      expect(events.degraded).toHaveLength(0)
      expect(await cache.getOrSet('k', () => 1)).toBe(1)
    } finally {
      await cache.close()
      await Promise.all(nodes.map((n) => redisCommand(n.port, ['ACL', 'DELUSER', 'cacheonly'])))
    }
  })

  it('kill a primary: degraded, recovered after failover; restarted it rejoins as a replica', async () => {
    const cache = createCache({
      redis: { cluster: cluster.startupNodes },
      prefix: uniquePrefix(),
      topology: { pollInterval: 100 },
    })
    const events = record(cache)
    try {
      await until('first poll', () => events.snapshots >= 1)
      expect(events.degraded).toHaveLength(0)
      const [victim] = await cluster.primaries()
      if (victim === undefined) throw new Error('no primary')
      const successor = (await cluster.replicas()).find((r) => r.primaryId === victim.id)
      if (successor === undefined) throw new Error('no replica')
      const address = `${victim.host}:${victim.port}`

      await cluster.killNode(victim.id)
      await until('degraded', () => events.degraded.length === 1)
      const reasons = events.degraded[0]?.reasons.join('; ') ?? ''
      expect(reasons).toMatch(new RegExp(`primary ${address} .*unreachable|slots in FAIL state`))

      await until('recovered', () => events.recovered.length === 1)
      const after = cache.topology
      const promoted = after?.nodes.find((n) => n.id === successor.id)
      expect(promoted?.role).toBe('primary')
      expect(promoted?.slots).toEqual(victim.slots)
      const dead = after?.nodes.find((n) => n.id === victim.id)
      expect(dead?.reachable).toBe(false)
      expect(dead?.slots).toEqual([])
      expect(after?.state).toBe('ok')
      const changedBefore = events.changed.length
      expect(changedBefore).toBeGreaterThanOrEqual(2)

      await cluster.restartNode(victim.id)
      await until('the old primary back as a replica', () => {
        const back = cache.topology?.nodes.find((n) => n.id === victim.id)
        return back?.role === 'replica' && back.primaryId === successor.id && back.reachable
      })
      expect(events.changed.length).toBeGreaterThan(changedBefore)
      // One outage, one recovery: the rejoin itself did not degrade anything.
      expect(events.degraded).toHaveLength(1)
      expect(events.recovered).toHaveLength(1)
    } finally {
      await cache.close()
    }
  })
})
