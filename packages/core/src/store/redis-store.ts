import type { Cluster, Redis } from 'ioredis'
import { EXTEND_LOCK, MARK_STALE, RELEASE_LOCK, type RedisClient, WRITE_LOADED } from './scripts'
import type { Store, WriteResult } from './store'

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/** L2 on Redis or Redis Cluster through ioredis. Every call here is wrapped by the engine's guard. */
export class RedisStore implements Store {
  readonly kind = 'redis' as const
  readonly client: RedisClient
  readonly #owned: boolean
  readonly #cluster: boolean

  constructor(client: RedisClient, owned: boolean) {
    this.client = client
    this.#owned = owned
    this.#cluster = isCluster(client)
  }

  get(key: string): Promise<Buffer | null> {
    return this.client.getBuffer(key)
  }

  getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return Promise.resolve([])
    // One MGET per call on a single server; on a cluster, single-key GETs that
    // auto-pipelining folds into one round trip per node (never a cross-slot command).
    if (!this.#cluster) return (this.client as Redis).mgetBuffer(...keys)
    return Promise.all(keys.map((k) => this.client.getBuffer(k)))
  }

  async set(key: string, bytes: Buffer, px: number): Promise<void> {
    await this.client.set(key, bytes, 'PX', Math.max(1, Math.round(px)))
  }

  async writeLoaded(
    key: string,
    lockKey: string,
    token: string,
    bytes: Buffer,
    px: number,
    createdAt: number,
  ): Promise<WriteResult> {
    const r = await WRITE_LOADED.run(
      this.client,
      [key, lockKey],
      [token, bytes, Math.max(1, Math.round(px)), createdAt],
    )
    return r === 1 ? 'written' : 'fenced'
  }

  async delete(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    if (!this.#cluster) return (this.client as Redis).unlink(...keys)
    const counts = await Promise.all(keys.map((k) => this.client.unlink(k)))
    return counts.reduce((a, b) => a + b, 0)
  }

  async markStale(key: string, freshUntil: number): Promise<boolean> {
    const bytes = Buffer.allocUnsafe(8)
    bytes.writeDoubleBE(freshUntil, 0)
    return (await MARK_STALE.run(this.client, [key], [bytes])) === 1
  }

  async acquireLock(lockKey: string, token: string, ttl: number): Promise<boolean> {
    return (await this.client.set(lockKey, token, 'PX', Math.max(1, Math.round(ttl)), 'NX')) === 'OK'
  }

  async extendLock(lockKey: string, token: string, ttl: number): Promise<boolean> {
    return (await EXTEND_LOCK.run(this.client, [lockKey], [token, Math.max(1, Math.round(ttl))])) === 1
  }

  async releaseLock(lockKey: string, token: string): Promise<void> {
    await RELEASE_LOCK.run(this.client, [lockKey], [token])
  }

  async deleteMatching(pattern: string, batch: number): Promise<number> {
    const nodes: Redis[] = this.#cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
    const counts = await Promise.all(nodes.map((node) => scanAndUnlink(node, pattern, batch, this.#cluster)))
    return counts.reduce((a, b) => a + b, 0)
  }

  async getTagTimes(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    const raw = this.#cluster
      ? await Promise.all(keys.map((k) => this.client.get(k)))
      : await (this.client as Redis).mget(...keys)
    return raw.map((v) => {
      const n = v === null ? 0 : Number(v)
      return Number.isFinite(n) ? n : 0
    })
  }

  async setTagTimes(keys: readonly string[], time: number, px: number): Promise<void> {
    await Promise.all(
      keys.map((k) =>
        px > 0 ? this.client.set(k, String(time), 'PX', px) : this.client.set(k, String(time)),
      ),
    )
  }

  async close(): Promise<void> {
    if (!this.#owned) return
    try {
      await this.client.quit()
    } catch {
      this.client.disconnect()
    }
  }
}

async function scanAndUnlink(node: Redis, pattern: string, batch: number, cluster: boolean): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', batch)
    cursor = next
    if (keys.length === 0) continue
    if (!cluster) {
      deleted += await node.unlink(...keys)
    } else {
      // Keys on one node still span many slots: UNLINK each (pipelined), never cross-slot.
      const p = node.pipeline()
      for (const k of keys) p.unlink(k)
      const res = (await p.exec()) ?? []
      for (const [err, n] of res) if (err === null && typeof n === 'number') deleted += n
    }
  } while (cursor !== '0')
  return deleted
}
