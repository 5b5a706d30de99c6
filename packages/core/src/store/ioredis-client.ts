import type { Cluster, Redis } from 'ioredis'
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
import { absorbLateSocketErrors } from './connect'
import { ioredis } from './ioredis-load'
import { WriteCoalescer } from './write-coalescer'

/** ioredis defines `evalshaBuffer`/`evalBuffer` for every command but does not declare them. */
interface BufferScripting {
  evalshaBuffer(...args: Arg[]): Promise<unknown>
  evalBuffer(...args: Arg[]): Promise<unknown>
}

function noscript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

/** ioredis's Command class when `cluster` is an ioredis Cluster that sends keys as given. */
function presetSlotCommand(cluster: Cluster): typeof import('ioredis')['Command'] | undefined {
  let lib: typeof import('ioredis')
  try {
    lib = ioredis()
  } catch {
    return undefined // an iovalkey Cluster without ioredis installed: its own getBuffer
  }
  if (!(cluster instanceof lib.Cluster)) return undefined
  const o = cluster.options as { keyPrefix?: unknown; showFriendlyErrorStack?: unknown }
  if ((o.keyPrefix !== undefined && o.keyPrefix !== '') || o.showFriendlyErrorStack === true) return undefined
  return lib.Command
}

function addressOf(conn: Redis): string {
  const { host, port, path } = conn.options
  return typeof path === 'string' && path !== '' ? path : `${host}:${port}`
}

/**
 * The seam over ioredis 5.9+/6 and iovalkey (same API). Commands go straight to the library
 * (auto-pipelining, MOVED/ASK and retries are its own); the hot path adds one method call.
 * On a Cluster without auto-pipelining, each tick's commands leave in one write per node
 * (write-coalescer.ts): the speed of auto-pipelining without its pipelines.
 */
export class IoredisClient implements Client {
  readonly library = 'ioredis' as const
  readonly cluster: boolean
  readonly shardedPubSub: boolean
  /** The library's client, for the code that still needs it (redlock, the bus until it moves). */
  readonly raw: Redis | Cluster
  readonly #nodes = new WeakMap<Redis, NodeConnection>()
  /** Cluster without auto-pipelining only (a pipelining client batches by itself). */
  readonly #coalescer: WriteCoalescer | undefined
  /**
   * ioredis's Command, when GETs may be built here with their slot already set: an ioredis
   * Cluster without keyPrefix (the slot is of the key as sent) or friendly error stacks.
   */
  readonly #command: typeof import('ioredis')['Command'] | undefined
  /** The last key whose slot was computed: the guard routes a GET by it just before sending it. */
  #slotKey = ''
  #slot = 0

  constructor(raw: Redis | Cluster) {
    this.raw = raw
    this.cluster = (raw as { isCluster?: boolean }).isCluster === true
    const pipelined = (raw as { options?: { enableAutoPipelining?: unknown } }).options?.enableAutoPipelining
    this.#coalescer = this.cluster && pipelined !== true ? new WriteCoalescer(raw as Cluster) : undefined
    this.#command = this.cluster && pipelined !== true ? presetSlotCommand(raw as Cluster) : undefined
    // ioredis 5.9+/6 Clusters know `shardedSubscribers` (a subscriber per shard); iovalkey 0.4's
    // does not, and its SSUBSCRIBE loops on MOVED until "Too many Cluster redirections".
    const options = (raw as { options?: object }).options
    this.shardedPubSub = !this.cluster || (typeof options === 'object' && 'shardedSubscribers' in options)
  }

  get status(): ClientStatus {
    const s = this.raw.status
    return s === 'ready' ? 'ready' : s === 'end' ? 'end' : 'connecting'
  }

  get address(): string {
    if (!this.cluster) return addressOf(this.raw as Redis)
    const first = (this.raw as unknown as { startupNodes?: unknown[] }).startupNodes?.[0] as
      | { host?: string; port?: number }
      | string
      | undefined
    return typeof first === 'object' && first !== null ? `${first.host}:${first.port}` : String(first ?? '')
  }

  getBuffer(key: string): Promise<Buffer | null> {
    this.#coalescer?.hold()
    const Command = this.#command
    if (Command === undefined) return this.raw.getBuffer(key)
    // What Cluster#getBuffer does, minus finding the key in the arguments and hashing it again:
    // the guard has just computed this key's slot to pick its circuit (slotOwner).
    const cmd = new Command('get', [key], { replyEncoding: null })
    ;(cmd as unknown as { slot: number }).slot = this.#slotOf(key)
    return this.raw.sendCommand(cmd) as Promise<Buffer | null>
  }

  mgetBuffer(keys: readonly string[]): Promise<Array<Buffer | null>> {
    this.#coalescer?.hold()
    return this.raw.mgetBuffer(...keys)
  }

  get(key: string): Promise<string | null> {
    this.#coalescer?.hold()
    return this.raw.get(key)
  }

  mget(keys: readonly string[]): Promise<Array<string | null>> {
    this.#coalescer?.hold()
    return this.raw.mget(...keys)
  }

  async set(key: string, value: string | Buffer, px: number): Promise<void> {
    this.#coalescer?.hold()
    if (px > 0) await this.raw.set(key, value, 'PX', px)
    else await this.raw.set(key, value)
  }

  async unlink(key: string): Promise<number> {
    this.#coalescer?.hold()
    return Number(await this.raw.unlink(key))
  }

  async evalScript(
    script: ScriptSource,
    keys: readonly string[],
    args: readonly Arg[],
    buffers: boolean,
  ): Promise<unknown> {
    const c = this.raw as unknown as BufferScripting & Pick<Redis, 'evalsha' | 'eval'>
    this.#coalescer?.hold()
    try {
      return buffers
        ? await c.evalshaBuffer(script.sha, keys.length, ...keys, ...args)
        : await c.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!noscript(err)) throw err
      return buffers
        ? c.evalBuffer(script.source, keys.length, ...keys, ...args)
        : c.eval(script.source, keys.length, ...keys, ...args)
    }
  }

  primaries(): NodeConnection[] {
    const conns = this.cluster ? (this.raw as Cluster).nodes('master') : [this.raw as Redis]
    return conns.map((c) => this.#node(c))
  }

  nodes(): NodeConnection[] {
    const conns = this.cluster ? (this.raw as Cluster).nodes('all') : [this.raw as Redis]
    return conns.map((c) => this.#node(c))
  }

  slotOwner(key: string): string {
    if (!this.cluster) return ''
    // ioredis keeps `slots[slot] = [primary, ...replicas]`; read anew, refreshes replace it.
    const slots = (this.raw as { slots?: unknown }).slots
    return Array.isArray(slots) ? String((slots[this.#slotOf(key)] as string[] | undefined)?.[0] ?? '') : ''
  }

  slotMap(): ReadonlyArray<readonly string[] | undefined> {
    return this.cluster ? (this.raw as Cluster).slots : []
  }

  refreshSlots(): void {
    if (this.cluster && this.raw.status === 'ready') (this.raw as Cluster).refreshSlotsCache()
  }

  refreshSlotsNow(): Promise<void> {
    if (!this.cluster || this.raw.status !== 'ready') return Promise.resolve()
    // A refresh already under way ends without calling a new callback: bounded by a timer.
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000)
      ;(this.raw as Cluster).refreshSlotsCache(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  publish(channel: string, payload: Buffer): Promise<unknown> {
    this.#coalescer?.hold()
    return this.raw.publish(channel, payload)
  }

  spublish(channel: string, payload: Buffer): Promise<unknown> {
    this.#coalescer?.hold()
    return this.raw.spublish(channel, payload)
  }

  subscriber(sharded: boolean, listener: MessageListener): Subscriber {
    const sub = this.cluster
      ? (this.raw as Cluster).duplicate(undefined, sharded ? { shardedSubscribers: true } : {})
      : // We resubscribe on every 'ready' ourselves: ioredis's own resubscription leaves its
        // SUBSCRIBE promise unhandled, which rejects if the connection closes before the reply.
        absorbLateSocketErrors(
          (this.raw as Redis).duplicate({ enableAutoPipelining: false, autoResubscribe: false }),
        )
    sub.on('messageBuffer', (channel: string | Buffer, raw: Buffer) => listener(String(channel), raw, false))
    sub.on('smessageBuffer', (channel: string | Buffer, raw: Buffer) => listener(String(channel), raw, true))
    return {
      get ready() {
        return sub.status === 'ready'
      },
      async subscribe(channels, shardedCall) {
        // SSUBSCRIBE takes channels of one slot only: one call per channel.
        if (shardedCall) await Promise.all(channels.map((ch) => (sub as Cluster).ssubscribe(ch)))
        else await sub.subscribe(...channels)
      },
      on(event: 'ready' | 'down' | 'error', fn: (err?: unknown) => void) {
        if (event === 'down') for (const e of ['close', 'end', 'reconnecting']) sub.on(e, () => fn())
        else sub.on(event, fn)
      },
      close: (deadline) =>
        closeWithin(
          () => sub.quit(),
          () => sub.disconnect(),
          deadline,
        ),
    }
  }

  on(event: 'ready' | 'error', listener: (err?: unknown) => void): void {
    this.raw.on(event, listener)
  }

  off(event: 'ready', listener: () => void): void {
    this.raw.off(event, listener)
  }

  close(deadline: number): Promise<void> {
    // disconnect() also stops ioredis's reconnect timer, so the process can exit.
    return closeWithin(
      () => this.raw.quit(),
      () => this.raw.disconnect(),
      deadline,
    )
  }

  #slotOf(key: string): number {
    if (key !== this.#slotKey) {
      this.#slot = keySlot(key)
      this.#slotKey = key
    }
    return this.#slot
  }

  #node(conn: Redis): NodeConnection {
    let n = this.#nodes.get(conn)
    if (n !== undefined) return n
    n = {
      address: addressOf(conn),
      async text(args) {
        const [name = '', ...rest] = args
        const reply = await conn.call(name, rest)
        return typeof reply === 'string' ? reply : Buffer.isBuffer(reply) ? reply.toString() : String(reply)
      },
      scan: (cursor, pattern, count) => conn.scan(cursor, 'MATCH', pattern, 'COUNT', count),
      async unlinkEach(keys) {
        const p = conn.pipeline()
        for (const k of keys) p.unlink(k)
        const res = (await p.exec()) ?? []
        return res.map(([err, count]) => (err === null ? Number(count) : null))
      },
      async loadScript(source) {
        await conn.script('LOAD', source).catch(() => {})
      },
    }
    this.#nodes.set(conn, n)
    return n
  }
}
