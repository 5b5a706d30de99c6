import type { Client, NodeConnection } from './client'
import { ScriptBatcher } from './script-batch'
import {
  EXTEND_LOCK,
  FAIL_LOADED,
  INVALIDATE,
  LOCK_OR_READ,
  LOCK_OR_READ_MANY,
  RELEASE_LOCK,
  type RedisClient,
  SCRIPTS,
  WRITE_ENTRY,
  WRITE_LOADED,
  WRITE_LOADED_MANY,
} from './scripts'
import type { LeaseResult, Store, WriteResult } from './store'

/** An ioredis Cluster (the bus still takes the ioredis client itself). */
export function isCluster(client: RedisClient): boolean {
  return (client as { isCluster?: boolean }).isCluster === true
}

/**
 * L2 on Redis or Redis Cluster through the client seam (ioredis, iovalkey or node-redis).
 * Every call here is wrapped by the engine's guard.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const
  /** A cluster: multi-key work is split per key so each reaches its own node (and circuit). */
  readonly partitioned: boolean
  readonly client: Client
  readonly #owned: boolean
  readonly #cluster: boolean
  readonly #lockOrRead: ScriptBatcher | undefined
  readonly #writeLoaded: ScriptBatcher | undefined

  constructor(client: Client, owned: boolean) {
    this.client = client
    this.#owned = owned
    this.#cluster = client.cluster
    this.partitioned = this.#cluster
    if (!this.#cluster) {
      // One server: the tick's misses share one read-or-lock and one write call.
      this.#lockOrRead = new ScriptBatcher(client, LOCK_OR_READ, LOCK_OR_READ_MANY, true)
      this.#writeLoaded = new ScriptBatcher(client, WRITE_LOADED, WRITE_LOADED_MANY, false)
    }
    // Load the scripts once per connection, so a cold fleet's first misses do not all pay
    // NOSCRIPT + EVAL at once (the seam still falls back after a restart or failover).
    const preload = () => {
      for (const node of client.primaries()) for (const s of SCRIPTS) void node.loadScript(s.source)
    }
    client.on('ready', preload)
    if (client.status === 'ready') preload()
  }

  get(key: string): Promise<Buffer | null> {
    return this.client.getBuffer(key)
  }

  getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return Promise.resolve([])
    // One MGET per call on a single server; on a cluster, single-key GETs that the client
    // folds into one round trip per node (never a cross-slot command).
    if (!this.#cluster) return this.client.mgetBuffer(keys)
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
    const args = [token, ms(ttl), seenCreatedAt, now, exclusive ? '1' : '0']
    const r =
      this.#lockOrRead !== undefined
        ? await this.#lockOrRead.run([key, leaseKey], args)
        : await LOCK_OR_READ.runBuffer(this.client, [key, leaseKey], args)
    return Buffer.isBuffer(r) ? r : r === 1
  }

  async writeLoaded(
    key: string,
    leaseKey: string,
    token: string,
    bytes: Buffer,
    px: number,
  ): Promise<WriteResult> {
    const args = [token, bytes, ms(px)]
    const r =
      this.#writeLoaded !== undefined
        ? await this.#writeLoaded.run([key, leaseKey], args)
        : await WRITE_LOADED.run(this.client, [key, leaseKey], args)
    return r === 1 ? 'written' : 'fenced'
  }

  async failLoaded(
    key: string,
    leaseKey: string,
    token: string,
    readCreatedAt: number,
    backoffUntil: number,
  ): Promise<void> {
    await FAIL_LOADED.run(
      this.client,
      [key, leaseKey],
      [token, readCreatedAt > 0 ? uint48(readCreatedAt) : '', ms(Math.max(0, backoffUntil - Date.now()))],
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
    const client = this.client
    let deleted = 0
    for (let scan = 1; ; scan++) {
      const before = this.#cluster ? owners(client) : ''
      const stale = { seen: false }
      const counts = await Promise.all(
        client.primaries().map((node) => scanAndUnlink(client, node, pattern, batch, accept, count, stale)),
      )
      deleted += counts.reduce((a, b) => a + b, 0)
      // A cluster whose map moved under the scan (a failover, a reshard) may hold a matching key
      // on a node the scan did not cover, or covered before the key arrived: scan again on the
      // refreshed map, and fail (the caller reports it) rather than claim a complete scan.
      if (!this.#cluster || (!stale.seen && owners(client) === before)) return deleted
      if (scan === MAX_SCANS) {
        throw new Error(`the cluster's slot map kept changing during ${MAX_SCANS} scans for ${pattern}`)
      }
      await client.refreshSlotsNow()
    }
  }

  async getTagTimes(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    const raw = this.#cluster
      ? await Promise.all(keys.map((k) => this.client.get(k)))
      : await this.client.mget(keys)
    return raw.map((v) => {
      const n = v === null ? 0 : Number(v)
      return Number.isFinite(n) ? n : 0
    })
  }

  async setTagTimes(keys: readonly string[], time: number, px: number): Promise<void> {
    await Promise.all(keys.map((k) => this.client.set(k, String(time), px)))
  }

  async close(deadline: number): Promise<void> {
    if (!this.#owned) return
    // A frozen or black-holed server never answers QUIT: the seam cuts it at the deadline.
    await this.client.close(deadline)
  }
}

/** Scans of one deleteMatching on a cluster whose slot map changes under it, before it fails. */
const MAX_SCANS = 3

/** Who owns each slot, as the client's map says (one string to compare before and after a scan). */
function owners(client: Client): string {
  return client
    .slotMap()
    .map((s) => s?.[0] ?? '')
    .join(',')
}

async function scanAndUnlink(
  client: Client,
  node: NodeConnection,
  pattern: string,
  batch: number,
  accept: (key: string) => boolean,
  count: (key: string) => boolean,
  stale: { seen: boolean },
): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, found] = await node.scan(cursor, pattern, batch)
    cursor = next
    const keys = found.filter(accept)
    if (keys.length === 0) continue
    // Keys on one node still span many slots: UNLINK each (pipelined), never cross-slot.
    const res = await node.unlinkEach(keys)
    const refused: string[] = []
    res.forEach((n, i) => {
      const key = keys[i] as string
      if (n === null) refused.push(key)
      else if (n === 1 && count(key)) deleted++
    })
    if (refused.length === 0) continue
    // The node no longer serves these keys' slots (MOVED, ASK during a migration, a replica the
    // map still calls a primary): delete each where the cluster routes it. A key that cannot be
    // deleted fails the call, never silently: a lease left behind would let a load it fences write.
    stale.seen = true
    const again = await Promise.all(refused.map((key) => client.unlink(key)))
    again.forEach((n, i) => {
      if (n === 1 && count(refused[i] as string)) deleted++
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
