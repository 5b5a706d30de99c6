/**
 * The client seam: every Redis command Herdless sends goes through one of these, so the engine,
 * the topology monitor and the bus never touch a client library. Two implementations:
 * ioredis-client.ts (ioredis 5.9+/6 and iovalkey, which share ioredis's API) and
 * node-redis-client.ts (node-redis 5 `createClient` and `createCluster`).
 *
 * Replies are normalised here: bulk strings as Buffers where asked, integers as numbers, nil as
 * null, and a Redis error reply is recognisable with isReplyError() whatever the library.
 */

/** An argument as Redis sees it: every value ends up a bulk string. */
export type Arg = string | Buffer | number

/** 'ready': commands are answered now; 'connecting': they queue; 'end': closed for good. */
export type ClientStatus = 'connecting' | 'ready' | 'end'

/** A Lua script's text and SHA1 (see scripts.ts's LuaScript). */
export interface ScriptSource {
  readonly sha: string
  readonly source: string
}

/** One server (a cluster node or the standalone server), for per-node commands. */
export interface NodeConnection {
  /** `host:port` as the client knows it (CLUSTER NODES may list another under NAT). */
  readonly address: string
  /** Any command; the reply as text (INFO, CLUSTER INFO/NODES/MYID). */
  text(args: readonly string[]): Promise<string>
  /** One SCAN step: [next cursor, keys]. */
  scan(cursor: string, pattern: string, count: number): Promise<[string, string[]]>
  /** UNLINK each key on its own (keys on one node still span many slots): 1 or 0 per key, null on error. */
  unlinkEach(keys: readonly string[]): Promise<Array<number | null>>
  /** SCRIPT LOAD; errors are swallowed (the NOSCRIPT fallback covers a miss). */
  loadScript(source: string): Promise<void>
}

/** A Pub/Sub message; `sharded` when it came from an SSUBSCRIBE. */
export type MessageListener = (channel: string, message: Buffer, sharded: boolean) => void

/** A dedicated subscriber connection (the bus), opened by Client.subscriber(). */
export interface Subscriber {
  /**
   * Subscribe to channels (sharded: SSUBSCRIBE, one call per channel). Messages arrive on the
   * listener given to subscriber(). Call again after every 'ready' to be sure: a repeat is harmless.
   */
  subscribe(channels: readonly string[], sharded: boolean): Promise<void>
  /** 'ready' (connected: subscribe now), 'down' (messages may be missed), 'error'. */
  on(event: 'ready' | 'down', listener: () => void): void
  on(event: 'error', listener: (err: unknown) => void): void
  /** Connected now (subscribe at once, no 'ready' will come for this connection). */
  readonly ready: boolean
  close(deadline: number): Promise<void>
}

export interface Client {
  readonly library: 'ioredis' | 'node-redis'
  readonly cluster: boolean
  /** Sharded Pub/Sub can be subscribed to (false: iovalkey 0.4's Cluster, which lacks `shardedSubscribers`). */
  readonly shardedPubSub: boolean
  readonly status: ClientStatus
  /** `host:port` of the standalone server (cluster: the first startup node). */
  readonly address: string
  getBuffer(key: string): Promise<Buffer | null>
  /** One MGET (standalone only: a cluster splits per key, see RedisStore). */
  mgetBuffer(keys: readonly string[]): Promise<Array<Buffer | null>>
  get(key: string): Promise<string | null>
  mget(keys: readonly string[]): Promise<Array<string | null>>
  /** SET, with PX when `px` > 0. */
  set(key: string, value: string | Buffer, px: number): Promise<void>
  /** UNLINK one key, routed by its slot (a cluster follows MOVED and ASK): 1 or 0. */
  unlink(key: string): Promise<number>
  /**
   * EVALSHA, falling back to EVAL once on NOSCRIPT (restart, failover, SCRIPT FLUSH). With
   * `buffers` bulk replies are Buffers (entry bytes are binary); else strings. Routed by keys[0].
   */
  evalScript(
    script: ScriptSource,
    keys: readonly string[],
    args: readonly Arg[],
    buffers: boolean,
  ): Promise<unknown>
  /** Every primary (the one server when standalone), for SCAN, SCRIPT LOAD and the monitor. */
  primaries(): NodeConnection[]
  /** Every node the client holds a connection to (primaries and replicas). */
  nodes(): NodeConnection[]
  /** `host:port` of the primary serving `key`'s slot; '' when unknown or standalone. */
  slotOwner(key: string): string
  /** Per slot, [primary, ...replicas] addresses from the client's own map (cluster; [] standalone). */
  slotMap(): ReadonlyArray<readonly string[] | undefined>
  /** Ask the client to refresh its slot map (coalesced by the library; no-op where it cannot). */
  refreshSlots(): void
  /** Refresh the slot map and resolve when done (or failed: the old map stays). */
  refreshSlotsNow(): Promise<void>
  publish(channel: string, payload: Buffer): Promise<unknown>
  spublish(channel: string, payload: Buffer): Promise<unknown>
  /**
   * A new connection for Pub/Sub; Herdless owns and closes it. `sharded`: it will SSUBSCRIBE
   * (an ioredis Cluster needs to know when it is created).
   */
  subscriber(sharded: boolean, listener: MessageListener): Subscriber
  on(event: 'ready', listener: () => void): void
  on(event: 'error', listener: (err: unknown) => void): void
  off(event: 'ready', listener: () => void): void
  /** QUIT, cut at `deadline` ms (a frozen server never answers). For clients Herdless created. */
  close(deadline: number): Promise<void>
}

/**
 * A Redis error reply (NOSCRIPT, NOPERM, OOM, WRONGTYPE...): the server is up and said no.
 * ioredis names them ReplyError; node-redis throws ErrorReply subclasses (name 'Error').
 */
export function isReplyError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'ReplyError') return true
  for (
    let p = Object.getPrototypeOf(err);
    p !== null && p !== Error.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true
  }
  return false
}

/**
 * A node-redis 5 `createClient()` or `createCluster()` instance, as `createCache({ redis })`
 * accepts it (connected). Structural, so core's types need no `redis` package installed.
 */
export interface NodeRedisInstance {
  /** node-redis's connection flag. */
  readonly isOpen: boolean
  /** node-redis's raw command call. */
  sendCommand(...args: never[]): Promise<unknown>
}

/**
 * An ioredis 5/6 or iovalkey Redis/Cluster instance, by shape: a user's ioredis 6 or iovalkey
 * types are not core's ioredis 5 types, yet the instances work the same.
 */
export interface IoredisInstance {
  /** ioredis's connection status. */
  readonly status: string
  /** ioredis's raw command call. */
  sendCommand(...args: never[]): unknown
  /** ioredis's duplicate() (the bus opens its subscriber with it). */
  duplicate(...args: never[]): unknown
}

/** The shape of a node-redis 5 client or cluster: `sendCommand` and `isOpen`, and no ioredis `status`. */
export function isNodeRedis(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return false
  const c = input as { sendCommand?: unknown; isOpen?: unknown; status?: unknown }
  return typeof c.sendCommand === 'function' && typeof c.isOpen === 'boolean' && c.status === undefined
}

/** A node-redis cluster (`createCluster`): it lists `masters` and `slots`. */
export function isNodeRedisCluster(input: unknown): boolean {
  if (!isNodeRedis(input)) return false
  const c = input as { masters?: unknown; slots?: unknown }
  return Array.isArray(c.masters) && Array.isArray(c.slots)
}

/** An ioredis (or iovalkey) Redis or Cluster instance: `sendCommand`, `duplicate` and a `status` string. */
export function isIoredis(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return false
  const c = input as { sendCommand?: unknown; duplicate?: unknown; status?: unknown }
  return (
    typeof c.sendCommand === 'function' && typeof c.duplicate === 'function' && typeof c.status === 'string'
  )
}

/** QUIT within a deadline, else cut: shared by both implementations. */
export async function closeWithin(
  quit: () => Promise<unknown>,
  cut: () => unknown,
  deadline: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), deadline)
  })
  try {
    const r = await Promise.race([quit(), late])
    if (r === 'cut') cut()
  } catch {
    try {
      cut()
    } catch {
      // already gone
    }
  } finally {
    clearTimeout(timer)
  }
}
