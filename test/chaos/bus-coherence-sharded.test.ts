import {
  cliAddNode,
  cliRebalance,
  cliReshard,
  type ExtraNode,
  killPubsubClients,
  type RedisCluster,
  startCluster,
  startEmptyClusterNode,
  uniquePrefix,
  waitUntil,
} from '@herdless/test-utils'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  buildCore,
  keysFor,
  LONG,
  lostEntries,
  settle,
  startWorkers,
  stopWorkers,
  summarize,
} from './bus-chaos'

/**
 * Sharded bus (SSUBSCRIBE) on a 3+3 cluster, two processes with L1 reading and writing while the
 * operator adds a node with redis-cli, reshards to it, adds its replica, rebalances, cuts every
 * Pub/Sub connection and kills a primary. No read may return a value older than a write that
 * completed more than BOUND_MS before it (the bus health bound).
 */

let cluster: RedisCluster | undefined
const extra: ExtraNode[] = []
beforeAll(() => buildCore(), 120_000)
afterAll(async () => {
  stopWorkers()
  await Promise.all(extra.map((n) => n.destroy()))
  await cluster?.stop()
})

it(
  'sharded bus: add-node + reshard + rebalance, CLIENT KILL pubsub, a primary kill: 0 stale reads beyond the bound',
  async () => {
    cluster = await startCluster()
    const run = await startWorkers(cluster, { sharded: true, keys: keysFor(400), prefix: uniquePrefix() })
    const [first] = await cluster.primaries()
    if (first === undefined) throw new Error('no primary')
    await settle(1_500)

    const node = await startEmptyClusterNode()
    extra.push(node)
    const peers = cluster.startupNodes.map((n) => n.port)
    await cliAddNode(node, first.port, { peers })
    await cliReshard(first.port, node.id, LONG ? 2_000 : 300)
    await settle(1_000)
    const replica = await startEmptyClusterNode()
    extra.push(replica)
    await cliAddNode(replica, first.port, { peers: [...peers, node.port], replicaOf: node.id })
    // Weighted in CI so the rebalance moves a few hundred slots, not thousands.
    await cliRebalance(first.port, LONG ? [] : [`${node.id}=0.15`])
    await settle(1_000)

    expect(await killPubsubClients([...cluster.startupNodes.map((n) => n.port), node.port])).toBeGreaterThan(
      0,
    )
    await settle(1_500)

    const [victim] = await cluster.primaries()
    const heir = (await cluster.replicas()).find((r) => r.primaryId === victim?.id)
    if (victim === undefined || heir === undefined) throw new Error('no primary with a replica')
    await cluster.killNode(victim.id)
    await waitUntil(
      'its replica to take over',
      async () => ((await cluster?.primaries())?.some((p) => p.id === heir.id) ? true : 'not yet'),
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    await settle(1_500)

    const results = await run.stop()
    const lost = await lostEntries(cluster, run, results)
    const t = summarize('sharded bus', results, lost)
    expect(t.reads).toBeGreaterThan(1_000)
    expect(t.writes).toBeGreaterThan(100)
    expect(t.wrong).toBe(0)
    expect(t.errors).toBe(0)
    expect(t.stale).toBe(0)
  },
  LONG ? 600_000 : 120_000,
)
