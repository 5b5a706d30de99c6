import { redisCommand, sharedCluster, uniquePrefix } from '@herdless/test-utils'
import Redis, { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/** The shared 3 + 3 cluster from the global setup: read/write only, never disturbed. */
describe('shared cluster (global setup + inject)', () => {
  const info = sharedCluster()
  const primaries = info.nodes.filter((n) => n.role === 'primary')
  const replicas = info.nodes.filter((n) => n.role === 'replica')
  const prefix = uniquePrefix()
  const keys = Array.from({ length: 1000 }, (_, i) => `${prefix}:${i}`)
  let cluster: Cluster

  beforeAll(() => {
    cluster = new Cluster(info.startupNodes, { enableAutoPipelining: true })
  })
  afterAll(async () => {
    await cluster.quit()
  })

  it('has 3 primaries covering all 16384 slots and 3 replicas, one per primary', () => {
    expect(info.nodes).toHaveLength(6)
    expect(info.startupNodes).toHaveLength(6)
    expect(primaries).toHaveLength(3)
    expect(replicas).toHaveLength(3)
    const covered = primaries.flatMap((p) => p.slots).reduce((n, [a, b]) => n + b - a + 1, 0)
    expect(covered).toBe(16_384)
    expect(new Set(replicas.map((r) => r.primaryId))).toEqual(new Set(primaries.map((p) => p.id)))
  })

  it('writes and reads 1,000 keys through an ioredis Cluster client', async () => {
    await Promise.all(keys.map((key, i) => cluster.set(key, `v${i}`, 'PX', 120_000)))
    const values = await Promise.all(keys.map((key) => cluster.get(key)))
    expect(values).toEqual(keys.map((_, i) => `v${i}`))
  })

  it('spreads the keys over all three primaries', async () => {
    const perPrimary = new Map<string, number>()
    await Promise.all(
      primaries.map(async (primary) => {
        const node = new Redis(primary.port, primary.host, { lazyConnect: true })
        try {
          const owned = (slot: number) => primary.slots.some(([a, b]) => slot >= a && slot <= b)
          const slots = (await Promise.all(keys.map((key) => node.cluster('KEYSLOT', key)))) as number[]
          const mine = keys.filter((_, i) => owned(slots[i] as number))
          // The key is physically on this primary (a wrong owner would answer MOVED).
          const present = await Promise.all(mine.map((key) => node.exists(key)))
          expect(present.every((n) => n === 1)).toBe(true)
          perPrimary.set(primary.id, mine.length)
        } finally {
          node.disconnect()
        }
      }),
    )
    const counts = [...perPrimary.values()]
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000)
    // Each primary owns about a third of the slots: each must hold a fair share.
    for (const count of counts) expect(count).toBeGreaterThan(200)
  })

  it('every replica follows its primary (ROLE, link up, same data)', async () => {
    for (const replica of replicas) {
      const primary = primaries.find((p) => p.id === replica.primaryId)
      expect(primary).toBeDefined()
      if (!primary) continue
      const role = (await redisCommand(replica.port, ['ROLE'])) as unknown[]
      expect(role.slice(0, 4)).toEqual(['slave', primary.host, primary.port, 'connected'])
      const repl = String(await redisCommand(replica.port, ['INFO', 'replication']))
      expect(repl).toMatch(/master_link_status:up/)
      // Wait until the replica acknowledged everything written so far, then read from it.
      expect(await redisCommand(primary.port, ['WAIT', 1, 5000])).toBeGreaterThanOrEqual(1)
      const node = new Redis(replica.port, replica.host, { lazyConnect: true })
      try {
        await node.readonly()
        const owned = (slot: number) => primary.slots.some(([a, b]) => slot >= a && slot <= b)
        const sample = keys.slice(0, 60)
        const slots = (await Promise.all(sample.map((key) => node.cluster('KEYSLOT', key)))) as number[]
        const mine = sample.filter((_, i) => owned(slots[i] as number))
        expect(mine.length).toBeGreaterThan(0)
        for (const key of mine) expect(await node.get(key)).toBe(`v${keys.indexOf(key)}`)
      } finally {
        node.disconnect()
      }
    }
  })
})
