import { killPubsubClients, type RedisCluster, startCluster, uniquePrefix } from '@herdless/test-utils'
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
 * Classic bus (SUBSCRIBE) on a 3+3 cluster: ioredis's cluster subscriber reconnects without a
 * word when its connection is cut, so only the heartbeats and sequence numbers can tell that
 * messages were lost. Two processes with L1 read and write while every node cuts its Pub/Sub
 * clients (three times), slots move, and a whole shard stops.
 */

let cluster: RedisCluster | undefined
beforeAll(() => buildCore(), 120_000)
afterAll(async () => {
  stopWorkers()
  await cluster?.stop()
})

it(
  'classic bus: CLIENT KILL pubsub on every node, a reshard, a whole shard stopped: 0 stale reads beyond the bound',
  async () => {
    cluster = await startCluster()
    const run = await startWorkers(cluster, { sharded: false, keys: keysFor(400), prefix: uniquePrefix() })
    const ports = cluster.startupNodes.map((n) => n.port)
    await settle(1_500)

    for (let i = 0; i < (LONG ? 10 : 3); i++) {
      expect(await killPubsubClients(ports)).toBeGreaterThan(0)
      await settle(1_000)
    }

    const [from, to] = await cluster.primaries()
    if (from === undefined || to === undefined) throw new Error('need two primaries')
    await cluster.reshard({ from: from.id, to: to.id, slots: LONG ? 3_000 : 500 })
    await settle(1_000)

    const [victim] = await cluster.primaries()
    const replica = (await cluster.replicas()).find((r) => r.primaryId === victim?.id)
    if (victim === undefined || replica === undefined) throw new Error('no shard with a replica')
    await Promise.all([cluster.stopNode(victim.id), cluster.stopNode(replica.id)])
    await settle(3_000)

    const results = await run.stop()
    const lost = await lostEntries(cluster, run, results)
    const t = summarize('classic bus', results, lost)
    expect(t.reads).toBeGreaterThan(1_000)
    expect(t.writes).toBeGreaterThan(100)
    expect(t.wrong).toBe(0)
    expect(t.errors).toBe(0)
    expect(t.stale).toBe(0)
  },
  LONG ? 600_000 : 120_000,
)
