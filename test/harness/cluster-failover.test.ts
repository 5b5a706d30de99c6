import { existsSync } from 'node:fs'
import { type RedisCluster, redisCommand, startCluster, uniquePrefix } from '@herdless/test-utils'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { elapsed, processExists } from './helpers'

/** A private cluster: these tests kill and fail over nodes. */
describe('private cluster: killNode, restartNode, failover, stop', () => {
  let cluster: RedisCluster
  const prefix = uniquePrefix()
  const keys = Array.from({ length: 300 }, (_, i) => `${prefix}:${i}`)
  let victimId = ''
  let successorId = ''

  async function readAll(): Promise<(string | null)[]> {
    // A fresh client: what is under test is the cluster's state, not ioredis's slot cache.
    const client = new Cluster(cluster.startupNodes)
    try {
      return await Promise.all(keys.map((key) => client.get(key)))
    } finally {
      client.disconnect()
    }
  }

  beforeAll(async () => {
    const t0 = performance.now()
    cluster = await startCluster()
    console.info(`3+3 cluster healthy in ${elapsed(t0)} ms`)
    const client = new Cluster(cluster.startupNodes)
    try {
      await Promise.all(keys.map((key, i) => client.set(key, `v${i}`)))
      // Every write acknowledged by a replica, so a promoted replica has all of them.
      for (const primary of await cluster.primaries()) {
        expect(await redisCommand(primary.port, ['WAIT', 1, 5000])).toBe(1)
      }
    } finally {
      client.disconnect()
    }
  })

  afterAll(async () => {
    await cluster?.stop()
  })

  it('killNode on a primary: its replica is promoted and cluster_state is ok again', async () => {
    const [victim] = await cluster.primaries()
    if (!victim) throw new Error('no primary')
    const replica = (await cluster.replicas()).find((r) => r.primaryId === victim.id)
    if (!replica) throw new Error(`primary ${victim.index} has no replica`)

    victimId = victim.id
    successorId = replica.id
    const t0 = performance.now()
    await cluster.killNode(victim.id)
    expect(processExists(victim.pid as number)).toBe(false)
    await cluster.waitForHealthy()
    console.info(`primary killed -> replica promoted, cluster ok in ${elapsed(t0)} ms`)

    const nodes = await cluster.nodes()
    const dead = nodes.find((n) => n.id === victim.id)
    const promoted = nodes.find((n) => n.id === replica.id)
    expect(dead?.alive).toBe(false)
    expect(promoted?.role).toBe('primary')
    expect(promoted?.slots).toEqual(victim.slots)
    for (const node of nodes.filter((n) => n.alive)) {
      expect(String(await redisCommand(node.port, ['CLUSTER', 'INFO']))).toMatch(/cluster_state:ok/)
    }
    expect(await readAll()).toEqual(keys.map((_, i) => `v${i}`))
  })

  it('restartNode: the old primary comes back (same port and id) as a replica of its successor', async () => {
    const dead = (await cluster.nodes()).find((n) => !n.alive)
    if (!dead) throw new Error('expected a dead node')
    expect(dead.id).toBe(victimId)
    await cluster.restartNode(dead.index)
    const back = (await cluster.nodes()).find((n) => n.index === dead.index)
    expect(back?.alive).toBe(true)
    expect(back?.id).toBe(dead.id)
    expect(back?.port).toBe(dead.port)
    expect(back?.role).toBe('replica')
    expect(back?.primaryId).toBe(successorId)
    expect(String(await redisCommand(dead.port, ['INFO', 'replication']))).toMatch(/master_link_status:up/)
  })

  it('failover: a manual failover right after a rejoin swaps the roles back', async () => {
    // The node that just rejoined: FACTS.md warns a failover sent right then can time out.
    const replica = (await cluster.replicas()).find((r) => r.id === victimId)
    if (!replica?.primaryId) throw new Error('the restarted node is not a replica')
    const oldPrimaryId = replica.primaryId
    expect(oldPrimaryId).toBe(successorId)
    const t0 = performance.now()
    await cluster.failover(replica.id)
    console.info(`manual failover done in ${elapsed(t0)} ms`)
    const nodes = await cluster.nodes()
    expect(nodes.find((n) => n.id === replica.id)?.role).toBe('primary')
    const demoted = nodes.find((n) => n.id === oldPrimaryId)
    expect(demoted?.role).toBe('replica')
    expect(demoted?.primaryId).toBe(replica.id)
    expect(await readAll()).toEqual(keys.map((_, i) => `v${i}`))
  })

  it('stop() leaves no process and no temp folder', async () => {
    const nodes = await cluster.nodes()
    const pids = nodes.map((n) => n.pid)
    expect(pids.every((pid) => typeof pid === 'number' && processExists(pid))).toBe(true)
    expect(existsSync(cluster.dir)).toBe(true)
    await cluster.stop()
    for (const pid of pids) expect(processExists(pid as number)).toBe(false)
    expect(existsSync(cluster.dir)).toBe(false)
    for (const { port } of cluster.startupNodes) {
      await expect(redisCommand(port, ['PING'], { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/)
    }
  })
})
