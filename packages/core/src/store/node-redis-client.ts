import { keySlot } from '../keys'
import {
  type Arg,
  type Client,
  type ClientStatus,
  closeWithin,
  type MessageListener,
  type NodeConnection,
  type ScriptSource,
  type Subscriber,
} from './client'

/*
 * node-redis 5 (`redis` / `@redis/client`), described by shape only: core never imports it, so
 * users of ioredis do not need it installed (and the reverse). Checked against @redis/client 5.12.
 */

/** RESP2/3 bulk string type id (RESP_TYPES.BLOB_STRING, '$'): mapped to Buffer for entry bytes. */
const BUFFERS = { typeMapping: { 36: Buffer } } as const

type RedisArgument = string | Buffer
type Listener = (message: Buffer, channel: Buffer) => void
interface CommandOptions {
  typeMapping?: Record<number, unknown>
}

interface Emitter {
  on(event: string, listener: (...args: never[]) => void): unknown
  off(event: string, listener: (...args: never[]) => void): unknown
}

interface PubSubCapable extends Emitter {
  readonly isOpen: boolean
  connect(): Promise<unknown>
  subscribe(channels: string | string[], listener: Listener, bufferMode: true): Promise<void>
  sSubscribe(channels: string | string[], listener: Listener, bufferMode: true): Promise<void>
  close(): Promise<void>
  destroy(): void
}

/** `createClient()`. */
export interface NodeRedisStandalone extends PubSubCapable {
  readonly isReady: boolean
  readonly options?: { url?: string; socket?: { host?: string; port?: number; path?: string } }
  sendCommand<T = unknown>(args: readonly RedisArgument[], options?: CommandOptions): Promise<T>
  duplicate(): NodeRedisStandalone
}

interface ShardNode {
  readonly address: string
  readonly host: string
  readonly port: number
}

/** `createCluster()`. */
export interface NodeRedisCluster extends PubSubCapable {
  readonly masters: readonly ShardNode[]
  readonly replicas: readonly ShardNode[]
  readonly slots: ReadonlyArray<{ master: ShardNode; replicas?: readonly ShardNode[] } | undefined>
  readonly options?: {
    rootNodes?: ReadonlyArray<{ url?: string; socket?: { host?: string; port?: number } }>
  }
  sendCommand<T = unknown>(
    firstKey: RedisArgument | undefined,
    isReadonly: boolean | undefined,
    args: readonly RedisArgument[],
    options?: CommandOptions,
  ): Promise<T>
  nodeClient(node: ShardNode): Promise<NodeRedisStandalone>
  duplicate(): NodeRedisCluster
}

function str(a: Arg): RedisArgument {
  return typeof a === 'number' ? String(a) : a
}

function text(reply: unknown): string {
  return typeof reply === 'string' ? reply : Buffer.isBuffer(reply) ? reply.toString() : String(reply)
}

function noscript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

function standaloneAddress(c: NodeRedisStandalone): string {
  const s = c.options?.socket
  if (s?.path !== undefined) return s.path
  if (s?.host !== undefined || s?.port !== undefined) return `${s.host ?? 'localhost'}:${s.port ?? 6379}`
  const url = c.options?.url
  if (url !== undefined) {
    try {
      const u = new URL(url)
      return `${u.hostname}:${u.port === '' ? 6379 : u.port}`
    } catch {
      return url
    }
  }
  return 'localhost:6379'
}

/**
 * The seam over node-redis 5. The user's client must be connected (`await client.connect()`):
 * Herdless never connects or closes a node-redis client it was handed (connect.ts says why).
 * node-redis pipelines commands issued in one tick by itself and follows MOVED/ASK on a cluster.
 */
export class NodeRedisClient implements Client {
  readonly library = 'node-redis' as const
  readonly cluster: boolean
  readonly shardedPubSub = true
  readonly #c: NodeRedisStandalone | undefined
  readonly #k: NodeRedisCluster | undefined
  /** Sends one command, routed by `firstKey` on a cluster. */
  readonly #send: <T>(
    firstKey: string | undefined,
    readonly: boolean,
    args: readonly RedisArgument[],
    options?: CommandOptions,
  ) => Promise<T>

  constructor(raw: NodeRedisStandalone | NodeRedisCluster, cluster: boolean) {
    this.cluster = cluster
    if (cluster) {
      const k = raw as NodeRedisCluster
      this.#k = k
      this.#send = (firstKey, ro, args, options) => k.sendCommand(firstKey, ro, args, options)
    } else {
      const c = raw as NodeRedisStandalone
      this.#c = c
      this.#send = (_firstKey, _ro, args, options) => c.sendCommand(args, options)
    }
  }

  get status(): ClientStatus {
    if (this.#k !== undefined) return this.#k.isOpen ? 'ready' : 'end'
    const c = this.#c as NodeRedisStandalone
    return c.isReady ? 'ready' : c.isOpen ? 'connecting' : 'end'
  }

  get address(): string {
    if (this.#c !== undefined) return standaloneAddress(this.#c)
    const root = this.#k?.options?.rootNodes?.[0]
    if (root?.socket !== undefined) return `${root.socket.host ?? 'localhost'}:${root.socket.port ?? 6379}`
    return root?.url ?? ''
  }

  getBuffer(key: string): Promise<Buffer | null> {
    return this.#send(key, true, ['GET', key], BUFFERS)
  }

  mgetBuffer(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return this.#send(keys[0], true, ['MGET', ...keys], BUFFERS)
  }

  get(key: string): Promise<string | null> {
    return this.#send(key, true, ['GET', key])
  }

  mget(keys: readonly string[]): Promise<Array<string | null>> {
    return this.#send(keys[0], true, ['MGET', ...keys])
  }

  async set(key: string, value: string | Buffer, px: number): Promise<void> {
    await this.#send(key, false, px > 0 ? ['SET', key, value, 'PX', String(px)] : ['SET', key, value])
  }

  async unlink(key: string): Promise<number> {
    return Number(await this.#send(key, false, ['UNLINK', key]))
  }

  async evalScript(
    script: ScriptSource,
    keys: readonly string[],
    args: readonly Arg[],
    buffers: boolean,
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args.map(str)]
    const options = buffers ? BUFFERS : undefined
    try {
      return await this.#send(keys[0], false, ['EVALSHA', script.sha, ...tail], options)
    } catch (err) {
      if (!noscript(err)) throw err
      return this.#send(keys[0], false, ['EVAL', script.source, ...tail], options)
    }
  }

  primaries(): NodeConnection[] {
    if (this.#c !== undefined) return [this.#standaloneNode(this.#c)]
    const k = this.#k as NodeRedisCluster
    return k.masters.map((m) => this.#clusterNode(k, m))
  }

  nodes(): NodeConnection[] {
    if (this.#c !== undefined) return [this.#standaloneNode(this.#c)]
    const k = this.#k as NodeRedisCluster
    // Replicas are asked only when node-redis already holds a connection to them (it opens
    // them lazily, for replica reads): the monitor goes by the cluster's flags for the rest.
    const connected = k.replicas.filter((r) => (r as { client?: unknown }).client !== undefined)
    return [...k.masters, ...connected].map((n) => this.#clusterNode(k, n))
  }

  slotOwner(key: string): string {
    return this.#k?.slots[keySlot(key)]?.master.address ?? ''
  }

  slotMap(): ReadonlyArray<readonly string[] | undefined> {
    const k = this.#k
    if (k === undefined) return []
    return k.slots.map((s) =>
      s === undefined ? undefined : [s.master.address, ...(s.replicas ?? []).map((r) => r.address)],
    )
  }

  refreshSlots(): void {
    // node-redis rediscovers the slot map itself on MOVED and on node errors.
  }

  refreshSlotsNow(): Promise<void> {
    return Promise.resolve()
  }

  publish(channel: string, payload: Buffer): Promise<unknown> {
    return this.#send(undefined, false, ['PUBLISH', channel, payload])
  }

  spublish(channel: string, payload: Buffer): Promise<unknown> {
    return this.#send(channel, false, ['SPUBLISH', channel, payload])
  }

  subscriber(_sharded: boolean, listener: MessageListener): Subscriber {
    const base = (this.#k ?? this.#c) as PubSubCapable & { duplicate(): PubSubCapable }
    const sub = base.duplicate()
    const ready = new Set<() => void>()
    const down = new Set<() => void>()
    const errors = new Set<(err: unknown) => void>()
    // node-redis keeps one listener set per channel; one function per kind keeps repeats idempotent.
    const onMessage: Listener = (message, channel) => listener(String(channel), message, false)
    const onShardMessage: Listener = (message, channel) => listener(String(channel), message, true)
    // An 'error' event without a listener would crash the process: always listen.
    const onError = (err: unknown) => {
      for (const f of errors) f(err)
    }
    let closed = false
    let connectedOnce = false
    let wasDown = false
    const onDown = () => {
      wasDown = true
      for (const f of down) f()
    }
    const onReady = () => {
      if (closed) return
      wasDown = false
      for (const f of ready) f()
    }
    if (this.cluster) {
      sub.on('node-error', onError)
      sub.on('node-disconnect', onDown)
      // Every node reports ready while the cluster connects: only a node back after a drop counts.
      sub.on('node-ready', () => {
        if (connectedOnce && wasDown) onReady()
      })
    } else {
      sub.on('error', onError)
      sub.on('end', onDown)
      sub.on('reconnecting', onDown)
      sub.on('ready', onReady)
    }
    const connected = sub.connect().then(
      () => {
        connectedOnce = true
        // A cluster emits no 'ready' of its own once every node is up.
        if (this.cluster) onReady()
      },
      (err: unknown) => onError(err),
    )
    return {
      get ready() {
        return sub.isOpen && (sub as { isReady?: boolean }).isReady !== false
      },
      async subscribe(channels, sharded) {
        await connected
        for (let attempt = 0; ; attempt++) {
          try {
            if (sharded) await Promise.all(channels.map((ch) => sub.sSubscribe(ch, onShardMessage, true)))
            else await sub.subscribe([...channels], onMessage, true)
            return
          } catch (err) {
            // node-redis 5.12's cluster loses its pub/sub node while a slot refresh runs: a
            // subscribe then fails with a TypeError from inside cluster-slots.js (reading `address`
            // of a node the refresh has just cleared, or setting `connectPromise` on a pub/sub
            // node already dropped). Seen in CI while other tests reshard the shared cluster. A
            // later subscribe builds a new pub/sub node: try again, a few times.
            if (attempt >= 3 || !(err instanceof TypeError)) throw err
            await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)))
          }
        }
      },
      on(event: 'ready' | 'down' | 'error', fn: (err?: unknown) => void) {
        if (event === 'ready') ready.add(fn)
        else if (event === 'down') down.add(fn)
        else errors.add(fn)
      },
      close(deadline) {
        closed = true
        return closeWithin(
          async () => {
            await connected
            if (sub.isOpen) await sub.close()
          },
          () => sub.destroy(),
          deadline,
        )
      },
    }
  }

  on(event: 'ready' | 'error', listener: (err?: unknown) => void): void {
    const raw = (this.#k ?? this.#c) as Emitter
    raw.on(this.cluster ? `node-${event}` : event, listener)
  }

  off(event: 'ready', listener: () => void): void {
    const raw = (this.#k ?? this.#c) as Emitter
    raw.off(this.cluster ? `node-${event}` : event, listener)
  }

  close(deadline: number): Promise<void> {
    const raw = (this.#k ?? this.#c) as PubSubCapable
    return closeWithin(
      () => raw.close(),
      () => raw.destroy(),
      deadline,
    )
  }

  #standaloneNode(c: NodeRedisStandalone): NodeConnection {
    return nodeConnection(standaloneAddress(c), () => Promise.resolve(c))
  }

  #clusterNode(k: NodeRedisCluster, node: ShardNode): NodeConnection {
    return nodeConnection(node.address, () => k.nodeClient(node))
  }
}

function nodeConnection(address: string, client: () => Promise<NodeRedisStandalone>): NodeConnection {
  return {
    address,
    async text(args) {
      return text(await (await client()).sendCommand(args))
    },
    async scan(cursor, pattern, count) {
      const c = await client()
      const [next, keys] = await c.sendCommand<[unknown, unknown[]]>([
        'SCAN',
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        String(count),
      ])
      return [text(next), keys.map(text)]
    },
    async unlinkEach(keys) {
      const c = await client()
      const res = await Promise.allSettled(keys.map((k) => c.sendCommand<number>(['UNLINK', k])))
      return res.map((r) => (r.status === 'fulfilled' ? Number(r.value) : null))
    },
    async loadScript(source) {
      try {
        await (await client()).sendCommand(['SCRIPT', 'LOAD', source])
      } catch {
        // the NOSCRIPT fallback covers it
      }
    },
  }
}
