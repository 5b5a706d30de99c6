import type { Cluster, Redis } from 'ioredis'
import {
  EXTEND_LOCK,
  FAIL_LOADED,
  INVALIDATE,
  LOCK_OR_READ,
  RELEASE_LOCK,
  type RedisClient,
  SCRIPTS,
  WRITE_ENTRY,
  WRITE_LOADED,
} from './scripts'
import type { LeaseResult, Store, WriteResult } from './store'

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/** L2 on Redis or Redis Cluster through ioredis. Every call here is wrapped by the engine's guard. */
export class RedisStore implements Store {
  readonly kind = 'redis' as const
  /** A cluster: multi-key work is split per key so each reaches its own node (and circuit). */
  readonly partitioned: boolean
  readonly client: RedisClient
  readonly #owned: boolean
  readonly #cluster: boolean

  constructor(client: RedisClient, owned: boolean) {
    this.client = client
    this.#owned = owned
    this.#cluster = isCluster(client)
    this.partitioned = this.#cluster
    // Load the scripts once per connection, so a cold fleet's first misses do not all pay
    // NOSCRIPT + EVAL at once (LuaScript still falls back after a restart or failover).
    const preload = () => {
      const nodes: Redis[] = this.#cluster ? (client as Cluster).nodes('master') : [client as Redis]
      for (const node of nodes) for (const s of SCRIPTS) node.script('LOAD', s.source).catch(() => {})
    }
    client.on('ready', preload)
    if (client.status === 'ready') preload()
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

  async lockOrRead(
    key: string,
    leaseKey: string,
    token: string,
    ttl: number,
    seenCreatedAt: number,
    now: number,
    exclusive: boolean,
  ): Promise<LeaseResult> {
    const r = await LOCK_OR_READ.runBuffer(
      this.client,
      [key, leaseKey],
      [token, ms(ttl), seenCreatedAt, now, exclusive ? '1' : '0'],
    )
    return Buffer.isBuffer(r) ? r : r === 1
  }

  async writeLoaded(
    key: string,
    leaseKey: string,
    token: string,
    bytes: Buffer,
    px: number,
  ): Promise<WriteResult> {
    const r = await WRITE_LOADED.run(this.client, [key, leaseKey], [token, bytes, ms(px)])
    return r === 1 ? 'written' : 'fenced'
  }

  async failLoaded(
    key: string,
    leaseKey: string,
    token: string,
    readCreatedAt: number,
    freshUntil: number,
  ): Promise<void> {
    await FAIL_LOADED.run(
      this.client,
      [key, leaseKey],
      [token, readCreatedAt > 0 ? uint48(readCreatedAt) : '', uint48(freshUntil)],
    )
  }

  async write(key: string, leaseKey: string, bytes: Buffer, px: number): Promise<void> {
    await WRITE_ENTRY.run(this.client, [key, leaseKey], [bytes, ms(px)])
  }

  async invalidate(
    keys: readonly string[],
    leaseKeys: readonly string[],
    mode: 'delete' | 'expire',
  ): Promise<number> {
    if (keys.length === 0) return 0
    const arg = mode === 'delete' ? 'del' : 'exp'
    if (!this.#cluster) {
      const pairs: string[] = []
      keys.forEach((k, i) => {
        pairs.push(k, leaseKeys[i] as string)
      })
      return Number(await INVALIDATE.run(this.client, pairs, [arg]))
    }
    // One script per entry: an entry and its lease share a slot, two entries need not.
    const counts = await Promise.all(
      keys.map((k, i) => INVALIDATE.run(this.client, [k, leaseKeys[i] as string], [arg])),
    )
    return counts.reduce<number>((a, b) => a + Number(b), 0)
  }

  async extendLock(leaseKey: string, token: string, ttl: number): Promise<boolean> {
    return (await EXTEND_LOCK.run(this.client, [leaseKey], [token, ms(ttl)])) === 1
  }

  async releaseLock(leaseKey: string, token: string): Promise<void> {
    await RELEASE_LOCK.run(this.client, [leaseKey], [token])
  }

  async deleteMatching(
    pattern: string,
    batch: number,
    accept: (key: string) => boolean,
    count: (key: string) => boolean,
  ): Promise<number> {
    const nodes: Redis[] = this.#cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
    const counts = await Promise.all(
      nodes.map((node) => scanAndUnlink(node, pattern, batch, this.#cluster, accept, count)),
    )
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

  async close(deadline: number): Promise<void> {
    if (!this.#owned) return
    // A frozen or black-holed server never answers QUIT: cut the connection at the deadline
    // (disconnect() also stops ioredis's reconnect timer, so the process can exit).
    let timer: NodeJS.Timeout | undefined
    const cut = new Promise<'cut'>((resolve) => {
      timer = setTimeout(() => resolve('cut'), deadline)
    })
    try {
      const r = await Promise.race([this.client.quit(), cut])
      if (r === 'cut') this.client.disconnect()
    } catch {
      this.client.disconnect()
    } finally {
      clearTimeout(timer)
    }
  }
}

async function scanAndUnlink(
  node: Redis,
  pattern: string,
  batch: number,
  cluster: boolean,
  accept: (key: string) => boolean,
  count: (key: string) => boolean,
): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', batch)
    cursor = next
    const keys = found.filter(accept)
    if (keys.length === 0) continue
    // Keys on one node still span many slots: UNLINK each (pipelined), never cross-slot.
    const p = node.pipeline()
    for (const k of keys) p.unlink(k)
    const res = (await p.exec()) ?? []
    res.forEach(([err, n], i) => {
      if (err === null && n === 1 && count(keys[i] as string)) deleted++
    })
  } while (cursor !== '0')
  return deleted
}

function ms(n: number): number {
  return Math.max(1, Math.round(n))
}

/** A header timestamp as the envelope stores it (entry/envelope.ts): 6 bytes, big-endian. */
function uint48(ms: number): Buffer {
  const b = Buffer.allocUnsafe(6)
  b.writeUIntBE(Math.min(2 ** 48 - 1, Math.max(0, Math.round(ms))), 0, 6)
  return b
}
