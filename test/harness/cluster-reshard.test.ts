import { existsSync } from 'node:fs'
import { type RedisCluster, redisCommand, startCluster, uniquePrefix } from '@herdless/test-utils'
import Redis, { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { elapsed } from './helpers'

/** A private cluster: resharding would disturb tests on the shared one. */
describe('private cluster: reshard keeps keys readable', () => {
  let cluster: RedisCluster
  let client: Cluster
  const prefix = uniquePrefix()
  // 1000 hash-tag groups of 4 keys: every slot that holds keys holds several, so moving it one
  // key at a time leaves it half migrated (CRC16 of `prefix:0..3999` may put at most one key
  // per slot, which would make that state unreachable).
  const keys = Array.from({ length: 4000 }, (_, i) => `${prefix}:{g${i >> 2}}:${i & 3}`)
  const expected = keys.map((_, i) => `v${i}`)
  const slotOf = new Map<string, number>()

  beforeAll(async () => {
    const t0 = performance.now()
    cluster = await startCluster()
    console.info(`3+3 cluster healthy in ${elapsed(t0)} ms`)
    // No auto-pipelining: ioredis 5.11 retries a whole pipeline on ASK, sending reads of keys
    // that were not migrated yet to the target, which answers null (seen in this very test).
    client = new Cluster(cluster.startupNodes)
    await Promise.all(keys.map((key, i) => client.set(key, `v${i}`)))
    const first = cluster.startupNodes[0]
    if (!first) throw new Error('no node')
    const admin = new Redis(first.port, first.host)
    try {
      const slots = await Promise.all(keys.map((key) => admin.cluster('KEYSLOT', key) as Promise<number>))
      for (const [i, key] of keys.entries()) slotOf.set(key, slots[i] as number)
    } finally {
      admin.disconnect()
    }
  })

  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  it('moves slots with their keys; reads during and after the move all succeed', async () => {
    const [from, to] = await cluster.primaries()
    if (!from || !to) throw new Error('need two primaries')
    const SLOTS = 1000
    const movedSlots = new Set(
      Array.from({ length: SLOTS }, (_, i) => i).map((i) => {
        let n = i
        for (const [a, b] of from.slots) {
          if (n <= b - a) return a + n
          n -= b - a + 1
        }
        return -1
      }),
    )
    const keysToMove = keys.filter((key) => movedSlots.has(slotOf.get(key) as number))
    expect(keysToMove.length).toBeGreaterThan(100)

    // Reader 1: four loops reading one key at a time (the keys that move first, then all of
    // them), for as long as the reshard runs. One read in flight per loop: a flood of reads would
    // only queue the reshard's own commands behind it.
    let done = false
    let reads = 0
    const mismatches: string[] = []
    const order = [...keysToMove, ...keys]
    const readers = Array.from({ length: 4 }, async (_, r) => {
      for (let i = r; !done; i = (i + 4) % order.length) {
        const key = order[i] as string
        const value = await client.get(key).catch((e: Error) => e.message)
        if (value !== expected[keys.indexOf(key)]) mismatches.push(`${key}=${value}`)
        reads++
      }
    })

    // Reader 2: the keys of a slot that is half migrated (some keys moved, some not): the
    // source answers ASK for the moved ones.
    let halfMigratedReads = 0
    const t0 = performance.now()
    const result = await cluster
      .reshard({
        from: from.id,
        to: to.id,
        slots: SLOTS,
        batchSize: 1,
        onBatch: async ({ slot, remainingKeys }) => {
          if (remainingKeys === 0) return
          const inSlot = keys.filter((key) => slotOf.get(key) === slot)
          const values = await Promise.all(inSlot.map((key) => client.get(key)))
          expect(values).toEqual(inSlot.map((key) => expected[keys.indexOf(key)]))
          halfMigratedReads += inSlot.length
        },
      })
      .finally(() => {
        done = true
      })
    await Promise.all(readers)
    console.info(
      `resharded ${result.slots.length} slots / ${result.keys} keys in ${elapsed(t0)} ms ` +
        `(${reads} concurrent reads, ${halfMigratedReads} reads of half-migrated slots)`,
    )

    expect(new Set(result.slots)).toEqual(movedSlots)
    expect(result.keys).toBe(keysToMove.length)
    expect(mismatches).toEqual([])
    expect(reads).toBeGreaterThan(keysToMove.length)
    expect(halfMigratedReads).toBeGreaterThan(0)

    // The new owner has the slots and their keys; the old one has neither.
    const nodes = await cluster.nodes()
    const owns = (id: string, slot: number) =>
      nodes.find((n) => n.id === id)?.slots.some(([a, b]) => slot >= a && slot <= b) ?? false
    for (const slot of movedSlots) {
      expect(owns(to.id, slot)).toBe(true)
      expect(owns(from.id, slot)).toBe(false)
    }
    let onTarget = 0
    let onSource = 0
    for (const slot of movedSlots) {
      onTarget += Number(await redisCommand(to.port, ['CLUSTER', 'COUNTKEYSINSLOT', slot]))
      onSource += Number(await redisCommand(from.port, ['CLUSTER', 'COUNTKEYSINSLOT', slot]))
    }
    expect(onTarget).toBe(keysToMove.length)
    expect(onSource).toBe(0)

    // After: the same client (following MOVED) and a fresh one read everything.
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(expected)
    const fresh = new Cluster(cluster.startupNodes)
    try {
      expect(await Promise.all(keys.map((key) => fresh.get(key)))).toEqual(expected)
    } finally {
      fresh.disconnect()
    }
  })

  it('rejects a reshard the source cannot do', async () => {
    const [from, to] = await cluster.primaries()
    if (!from || !to) throw new Error('need two primaries')
    await expect(cluster.reshard({ from: from.id, to: from.id, slots: 1 })).rejects.toThrow(/same node/)
    await expect(cluster.reshard({ from: from.id, to: to.id, slots: 20_000 })).rejects.toThrow(/owns/)
    const foreign = to.slots[0]?.[0] as number
    await expect(cluster.reshard({ from: from.id, to: to.id, slots: [foreign] })).rejects.toThrow(
      /does not own/,
    )
  })

  it('stop() removes every node and the folder', async () => {
    const pids = (await cluster.nodes()).map((n) => n.pid)
    await cluster.stop()
    for (const pid of pids) expect(() => process.kill(pid as number, 0)).toThrow()
    expect(existsSync(cluster.dir)).toBe(false)
  })
})
