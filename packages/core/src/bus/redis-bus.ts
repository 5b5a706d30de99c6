import type { Cluster, Redis } from 'ioredis'
import { keySlot } from '../keys'
import { absorbLateSocketErrors } from '../store/connect'
import { isCluster } from '../store/redis-store'
import type { RedisClient } from '../store/scripts'
import { type BusMessage, type BusMessageType, decodeBusMessage, encodeBusMessage } from './codec'

export type BusState = 'connecting' | 'ready' | 'down' | 'closed'

export interface BusHandlers {
  /** A valid message from another process. */
  message(msg: BusMessage): void
  /** A message was dropped (malformed, unsigned, forged, replayed). */
  rejected(reason: string): void
  /** The subscriber lost its connection: messages may be missed from now on. */
  down(): void
  /** Subscribed again after a drop (or for the first time). */
  up(first: boolean): void
  published(type: BusMessageType, count: number): void
  error(err: unknown, operation: string): void
}

export interface RedisBusOptions {
  prefix: string
  sender: string
  signingKeys: Buffer[]
  maxAge: number
  sharded: boolean
  channels: number
}

const BATCH = 500
const QUEUE_MAX = 1_000
const RETRY_MS = 250

/**
 * Invalidation bus over Redis Pub/Sub (or sharded Pub/Sub on a cluster). Messages from one
 * tick are batched per type and channel; failed publishes wait in a bounded queue and are
 * retried; the subscriber reports drops so the caller can stop trusting (and clear) L1.
 */
export class RedisBus {
  state: BusState = 'connecting'
  readonly #pub: RedisClient
  readonly #sub: RedisClient
  readonly #o: RedisBusOptions
  readonly #h: BusHandlers
  readonly #channels: string[]
  #pending = new Map<string, { type: BusMessageType; channel: string; keys: string[] }>()
  #flushScheduled = false
  #retry: Array<{ channel: string; payload: Buffer; type: BusMessageType; count: number }> = []
  #retryTimer: NodeJS.Timeout | undefined
  readonly #inflight = new Set<Promise<unknown>>()
  #everUp = false

  constructor(publisher: RedisClient, options: RedisBusOptions, handlers: BusHandlers) {
    this.#pub = publisher
    this.#o = options
    this.#h = handlers
    const base = `${options.prefix}:bus`
    // Sharded: one channel per slot group, each with its own hash tag so they spread over shards.
    this.#channels = options.sharded
      ? Array.from({ length: options.channels }, (_, i) => `${base}:{${i}}`)
      : [base]
    this.#sub = isCluster(publisher)
      ? (publisher as Cluster).duplicate(undefined, options.sharded ? { shardedSubscribers: true } : {})
      : // We resubscribe on every 'ready' ourselves: ioredis's own resubscription leaves its
        // SUBSCRIBE promise unhandled, which rejects if the connection closes before the reply.
        absorbLateSocketErrors(
          (publisher as Redis).duplicate({ enableAutoPipelining: false, autoResubscribe: false }),
        )
    this.#listen()
  }

  get channels(): readonly string[] {
    return this.#channels
  }

  /** The channel a key's message goes to (sharded: by slot group). */
  channelFor(key: string): string {
    if (this.#channels.length === 1) return this.#channels[0] as string
    return this.#channels[keySlot(key) % this.#channels.length] as string
  }

  publish(type: BusMessageType, keys: readonly string[]): void {
    if (this.state === 'closed' || keys.length === 0) return
    for (const key of keys) {
      const channel = type === 'clear' || type === 'pattern' ? 'all' : this.channelFor(key)
      const id = `${type}|${channel}`
      let batch = this.#pending.get(id)
      if (batch === undefined) {
        batch = { type, channel, keys: [] }
        this.#pending.set(id, batch)
      }
      batch.keys.push(key)
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.#flush())
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return
    this.#flush()
    // Let the last invalidations reach Redis before the connections close (bounded: a dead
    // Redis must not hold close() up).
    if (this.#inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 1_000)
        }),
      ])
      clearTimeout(timer)
    }
    this.state = 'closed'
    clearTimeout(this.#retryTimer)
    try {
      await this.#sub.quit()
    } catch {
      this.#sub.disconnect()
    }
  }

  #listen(): void {
    const sub = this.#sub
    const onRaw = (_channel: string | Buffer, raw: Buffer) => {
      const r = decodeBusMessage(raw, this.#o.signingKeys, this.#o.maxAge)
      if (!r.ok) return this.#h.rejected(r.reason)
      if (r.message.sender === this.#o.sender) return
      this.#h.message(r.message)
    }
    if (this.#o.sharded) sub.on('smessageBuffer', onRaw)
    else sub.on('messageBuffer', onRaw)
    sub.on('error', (err: unknown) => this.#h.error(err, 'bus'))
    const markDown = () => {
      if (this.state === 'ready') {
        this.state = 'down'
        this.#h.down()
      }
    }
    sub.on('close', markDown)
    sub.on('end', markDown)
    sub.on('reconnecting', markDown)
    sub.on('ready', () => {
      if (this.state === 'closed') return
      void this.#subscribe()
    })
  }

  async #subscribe(): Promise<void> {
    try {
      // SSUBSCRIBE takes channels of one slot only: one call per channel.
      if (this.#o.sharded)
        await Promise.all(this.#channels.map((ch) => (this.#sub as Cluster).ssubscribe(ch)))
      else await this.#sub.subscribe(...this.#channels)
    } catch (err) {
      this.#h.error(err, 'bus:subscribe')
      return
    }
    if (this.state === 'closed') return
    const first = !this.#everUp
    this.#everUp = true
    this.state = 'ready'
    this.#h.up(first)
  }

  #flush(): void {
    this.#flushScheduled = false
    const batches = [...this.#pending.values()]
    this.#pending.clear()
    const now = Date.now()
    for (const b of batches) {
      for (let i = 0; i < b.keys.length; i += BATCH) {
        const keys = b.keys.slice(i, i + BATCH)
        const msg: BusMessage = { sender: this.#o.sender, type: b.type, keys, time: now }
        const payload = encodeBusMessage(msg, this.#o.signingKeys[0])
        const targets = b.channel === 'all' ? this.#channels : [b.channel]
        for (const channel of targets) this.#send(channel, payload, b.type, keys.length)
      }
    }
  }

  #send(channel: string, payload: Buffer, type: BusMessageType, count: number): void {
    const p = this.#o.sharded
      ? (this.#pub as Cluster).spublish(channel, payload)
      : (this.#pub as Redis).publish(channel, payload)
    const done = p.then(
      () => this.#h.published(type, count),
      (err: unknown) => {
        this.#h.error(err, 'bus:publish')
        if (this.#retry.length >= QUEUE_MAX) this.#retry.shift()
        this.#retry.push({ channel, payload, type, count })
        this.#scheduleRetry()
      },
    )
    this.#inflight.add(done)
    void done.finally(() => this.#inflight.delete(done))
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.state === 'closed') return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      const items = this.#retry
      this.#retry = []
      for (const it of items) this.#send(it.channel, it.payload, it.type, it.count)
    }, RETRY_MS)
    this.#retryTimer.unref()
  }
}
