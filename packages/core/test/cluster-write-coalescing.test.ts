import { redisCommand, sharedCluster } from '@herdless/test-utils'
import { Cluster, type Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { IoredisClient } from '../src/store/ioredis-client'

/**
 * On a Cluster without auto-pipelining the client seam holds each tick's commands in the node
 * sockets (cork) and lets them go together at setImmediate (store/write-coalescer.ts): the write
 * batching of auto-pipelining without ioredis's cluster pipelines (ioredis#2075). Counted on the
 * real sockets of the shared 3+3 cluster; the reshard behaviour is in test/chaos/cluster-ask-window.
 */

const clients: Cluster[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit()))
})

async function connected(
  options: { enableAutoPipelining?: boolean; keyPrefix?: string } = {},
): Promise<Cluster> {
  const raw = new Cluster(sharedCluster().startupNodes, options)
  clients.push(raw)
  await raw.ping()
  // A connection to every primary, so each has a socket to hold.
  await Promise.all((raw.nodes('master') as Redis[]).map((n) => n.ping()))
  return raw
}

interface Held {
  corked: number
  buffered: number
}

function sockets(raw: Cluster): Held[] {
  return (raw.nodes('master') as Redis[]).map((n) => {
    const s = (n as unknown as { stream: { writableCorked: number; writableLength: number } }).stream
    return { corked: s.writableCorked, buffered: s.writableLength }
  })
}

/** MOVED replies sent by every primary so far (Redis 7 INFO errorstats). */
async function movedReplies(): Promise<number> {
  let n = 0
  for (const node of sharedCluster().startupNodes) {
    const text = String(await redisCommand(node.port, ['INFO', 'errorstats']))
    n += Number(/errorstat_MOVED:count=(\d+)/.exec(text)?.[1] ?? 0)
  }
  return n
}

const keys = Array.from({ length: 90 }, (_, i) => `coalesce:${process.pid}:${i}`)

describe('cluster write coalescing (client seam)', () => {
  it("holds one tick's commands in every primary's socket, then sends them together", async () => {
    const raw = await connected()
    const client = new IoredisClient(raw)
    await Promise.all(keys.map((k, i) => client.set(k, `v${i}`, 60_000)))

    const reads = keys.map((k) => client.getBuffer(k))
    const during = sockets(raw)
    // 90 keys spread over the slots: every primary got some, and holds them all until the flush.
    expect(during.map((s) => s.corked)).toEqual([1, 1, 1])
    expect(during.every((s) => s.buffered > 0)).toBe(true)

    const values = await Promise.all(reads)
    expect(values.map((v) => v?.toString())).toEqual(keys.map((_, i) => `v${i}`))
    expect(sockets(raw).map((s) => s.corked)).toEqual([0, 0, 0])
  })

  it('leaves a client with auto-pipelining alone (it batches by itself)', async () => {
    const raw = await connected({ enableAutoPipelining: true })
    const client = new IoredisClient(raw)
    const reads = keys.map((k) => client.getBuffer(k))
    expect(sockets(raw).map((s) => s.corked)).toEqual([0, 0, 0])
    await Promise.all(reads)
  })

  it('sends each GET straight to the node of its slot (the slot the seam computes, or ioredis with a keyPrefix)', async () => {
    for (const keyPrefix of [undefined, 'kp:']) {
      const raw = await connected(keyPrefix === undefined ? {} : { keyPrefix })
      const client = new IoredisClient(raw)
      await Promise.all(keys.map((k, i) => client.set(k, `v${i}`, 60_000)))
      const before = await movedReplies()
      const values = await Promise.all(keys.map((k) => client.getBuffer(k)))
      expect(values.map((v) => v?.toString())).toEqual(keys.map((_, i) => `v${i}`))
      // A GET sent to the wrong node would come back MOVED (ioredis follows it, so only this shows it).
      expect(await movedReplies()).toBe(before)
    }
  })
})
