import { createCache, type TopologySnapshot } from '@herdless/core'
import { registerMetrics } from '@herdless/prometheus'
import { startRedis, uniquePrefix } from '@herdless/test-utils'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { parseExposition, seriesKey } from './helpers'

describe('topology gauges from the real monitor', () => {
  it('mirror each snapshot the monitor emits (private Redis with maxmemory set)', async () => {
    // A private server: the shared one must not be reconfigured, and its maxmemory is unset.
    const redis = await startRedis({ args: ['--maxmemory', '8mb'] })
    const cache = createCache({ redis: redis.url, prefix: uniquePrefix(), topology: { pollInterval: '1h' } })
    try {
      const registry = new Registry()
      const metrics = registerMetrics(cache, { registry, cacheName: 'topo' })
      const snapshot = await new Promise<TopologySnapshot>((resolve) =>
        cache.once('topology:snapshot', (e) => resolve(e.snapshot)),
      )
      expect(snapshot.nodes).toHaveLength(1)
      const [node] = snapshot.nodes
      expect(node?.address).toBe(`127.0.0.1:${redis.port}`)
      expect(node?.memoryRatio).toBeGreaterThan(0)

      const gauges = async () => {
        const out: Record<string, number> = {}
        for (const s of parseExposition(await registry.metrics())) {
          if (/^herdless_(cluster_state|cluster_slots_fail|node_memory_ratio)$/.test(s.name)) {
            out[seriesKey(s)] = s.value
          }
        }
        return out
      }
      // The first poll runs at once and the next in an hour: the gauges hold this snapshot.
      expect(await gauges()).toEqual({
        'herdless_cluster_state{cache="topo"}':
          snapshot.state === 'ok' ? 1 : snapshot.state === 'fail' ? 0 : -1,
        'herdless_cluster_slots_fail{cache="topo"}': snapshot.slotsFail,
        [`herdless_node_memory_ratio{cache="topo",node="127.0.0.1:${redis.port}"}`]: node?.memoryRatio,
      })
      expect(snapshot.state).toBe('ok')
      metrics.unregister()
      expect(await gauges()).toEqual({})
    } finally {
      await cache.close()
      await redis.stop()
    }
  })
})
