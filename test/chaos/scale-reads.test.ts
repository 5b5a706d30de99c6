import { createCache } from '@herdless/core'
import { redisCommand, sharedCluster, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { describe, expect, it } from 'vitest'

async function getCalls(port: number): Promise<number> {
  const text = String(await redisCommand(port, ['INFO', 'commandstats']))
  return Number(/cmdstat_get:calls=(\d+)/.exec(text)?.[1] ?? 0)
}

describe('scaleReads passes through to the cluster client', () => {
  it("scaleReads: 'slave' serves L2 reads from replicas (writes still go to primaries)", async () => {
    const { startupNodes, nodes } = sharedCluster()
    const prefix = uniquePrefix()
    const keys = Array.from({ length: 60 }, (_, i) => `r:${i}`)
    const writer = createCache({ redis: { cluster: startupNodes }, prefix })
    try {
      for (const k of keys) await writer.set(k, `v:${k}`)
    } finally {
      await writer.close()
    }
    // Replicas acknowledge the writes, and every node lists them in CLUSTER SLOTS: Redis 7 leaves
    // out a replica until gossip tells it the replica has received data.
    const primaries = nodes.filter((n) => n.role === 'primary')
    for (const p of primaries) await redisCommand(p.port, ['WAIT', 1, 5_000])
    await waitUntil(
      'every node to list the replicas in CLUSTER SLOTS',
      async () => {
        for (const n of nodes) {
          const ranges = (await redisCommand(n.port, ['CLUSTER', 'SLOTS'])) as unknown[][]
          if (ranges.some((r) => r.length < 4)) return `node ${n.port} lists a shard without its replica`
        }
        return true
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    )

    const replicas = nodes.filter((n) => n.role === 'replica')
    const before = await Promise.all(replicas.map((r) => getCalls(r.port)))
    const reader = createCache({ redis: { cluster: startupNodes, scaleReads: 'slave' }, prefix })
    let loads = 0
    let hits = 0
    reader.on('hit', () => hits++)
    try {
      const values = await Promise.all(
        keys.map((k) =>
          reader.getOrSet(k, () => {
            loads++
            return 'loaded'
          }),
        ),
      )
      expect(values).toEqual(keys.map((k) => `v:${k}`))
    } finally {
      await reader.close()
    }
    const after = await Promise.all(replicas.map((r) => getCalls(r.port)))
    const onReplicas = after.reduce((a, n, i) => a + n - (before[i] ?? 0), 0)
    expect(loads).toBe(0)
    expect(hits).toBe(keys.length)
    expect(onReplicas).toBeGreaterThanOrEqual(keys.length)
  })
})
