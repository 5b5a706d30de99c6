import type { TopologyNode, TopologySnapshot } from '@herdless/core'
import { registerMetrics } from '@herdless/prometheus'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ManualEvents, parseExposition, seriesKey } from './helpers'

function node(address: string, memoryRatio: number): TopologyNode {
  return {
    id: address,
    address,
    role: 'primary',
    slots: [],
    usedMemory: memoryRatio * 1000,
    maxMemory: 1000,
    memoryRatio,
    fragmentationRatio: 1,
    rss: 0,
    reachable: true,
  }
}

function snapshot(
  state: TopologySnapshot['state'],
  slotsFail: number,
  nodes: TopologyNode[],
): TopologySnapshot {
  return { at: Date.now(), mode: 'cluster', state, slotsAssigned: 16384, slotsFail, slotsPfail: 0, nodes }
}

async function gauges(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const s of parseExposition(await registry.metrics())) {
    if (/^herdless_(cluster_state|cluster_slots_fail|node_memory_ratio|l1_entries)$/.test(s.name)) {
      out[seriesKey(s)] = s.value
    }
  }
  return out
}

// The topology monitor is not in core yet: these snapshots are emitted by hand, with the
// payload type core fixed in types.ts.
describe('gauges from topology snapshots and L1 size', () => {
  it('follow each snapshot: state, failed slots, one memory ratio per node present', async () => {
    const registry = new Registry()
    const source = new ManualEvents('app')
    source.l1Size = 12
    const metrics = registerMetrics(source, { registry })
    source.emit('topology:snapshot', {
      snapshot: snapshot('ok', 0, [node('10.0.0.1:6379', 0.5), node('10.0.0.2:6379', 0.82)]),
    })
    expect(await gauges(registry)).toEqual({
      'herdless_l1_entries{cache="app"}': 12,
      'herdless_cluster_state{cache="app"}': 1,
      'herdless_cluster_slots_fail{cache="app"}': 0,
      'herdless_node_memory_ratio{cache="app",node="10.0.0.1:6379"}': 0.5,
      'herdless_node_memory_ratio{cache="app",node="10.0.0.2:6379"}': 0.82,
    })

    source.l1Size = 3
    source.emit('topology:snapshot', { snapshot: snapshot('fail', 5461, [node('10.0.0.1:6379', 0.6)]) })
    expect(await gauges(registry)).toEqual({
      'herdless_l1_entries{cache="app"}': 3,
      'herdless_cluster_state{cache="app"}': 0,
      'herdless_cluster_slots_fail{cache="app"}': 5461,
      'herdless_node_memory_ratio{cache="app",node="10.0.0.1:6379"}': 0.6,
    })

    source.emit('topology:snapshot', { snapshot: snapshot('unknown', 0, []) })
    expect((await gauges(registry))['herdless_cluster_state{cache="app"}']).toBe(-1)

    metrics.unregister()
    expect(await gauges(registry)).toEqual({})
  })

  it('sums L1 sizes of caches sharing a cacheName, and reads 0 from a cache without L1', async () => {
    const registry = new Registry()
    const one = new ManualEvents('one')
    one.l1Size = 5
    const two = new ManualEvents('two')
    two.l1Size = 7
    const plain = {
      on: one.on.bind(new ManualEvents()),
      off: one.off.bind(new ManualEvents()),
      prefix: 'plain',
    }
    registerMetrics(one, { registry, cacheName: 'shared' })
    const h = registerMetrics(two, { registry, cacheName: 'shared' })
    registerMetrics(plain, { registry })
    expect(await gauges(registry)).toEqual({
      'herdless_l1_entries{cache="shared"}': 12,
      'herdless_l1_entries{cache="plain"}': 0,
    })
    h.unregister()
    expect(await gauges(registry)).toEqual({
      'herdless_l1_entries{cache="shared"}': 5,
      'herdless_l1_entries{cache="plain"}': 0,
    })
  })
})
