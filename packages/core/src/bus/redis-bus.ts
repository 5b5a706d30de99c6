import type { Cluster, Redis } from 'ioredis'
import { keySlot } from '../keys'
import { absorbLateSocketErrors } from '../store/connect'
import { isCluster } from '../store/redis-store'
import type { RedisClient } from '../store/scripts'
import type { BusUnhealthyReason } from '../types'
import {
  type BusControlType,
  type BusMessage,
  type BusMessageType,
  decodeBusMessage,
  encodeBusMessage,
} from './codec'

export type BusState = 'connecting' | 'ready' | 'down' | 'closed'

export interface BusHandlers {
  /** A valid message from another process. */
  message(msg: BusMessage): void
  /** A message was dropped (malformed, unsigned, forged, replayed). */
  rejected(reason: string): void
  /**
   * Messages may have been missed (the subscriber dropped, a channel showed a sequence gap or
   * stopped echoing this process's heartbeats, a peer went silent): stop trusting L1.
   */
  down(reason: BusUnhealthyReason, channel: string | undefined): void
  /** Every channel is shown whole again (or for the first time): L1 may be used. */
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
  /** See BusOptions.healthWindow. */
  healthWindow: number
}

const BATCH = 500
/** Failed publishes kept for retry (oldest dropped first; receivers then see a sequence gap). */
const QUEUE_MAX = 1_000
const RETRY_MS = 250
/** Peers remembered per channel (a fleet larger than this only costs a spurious L1 drop). */
const PEERS_MAX = 1_000

/** A sequence hole larger than this is judged lost at once. */
const HOLES_MAX = 64

/** A sender's sequence on one channel, as seen here. */
interface Peer {
  seq: number
  at: number
  /** Sequence numbers skipped over, and when the skip was seen. */
  holes: Map<number, number>
}

/** What one channel has shown lately; it is whole while it echoes our own heartbeats in order. */
interface ChannelHealth {
  /** Last sequence number this process used on the channel. */
  sent: number
  /** Our own messages as they come back (`own.seq`: the last one), and when one last did. */
  own: Peer
  echoedAt: number
  /** Own sequence number when the channel was last found broken: whole again once `echoed` passes it. */
  brokenAt: number
  /** Since when the channel is whole (0: not whole). */
  wholeSince: number
  /** Last re-subscribe attempt (rate limit). */
  resubscribedAt: number
  peers: Map<string, Peer>
}

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
  #subscribed = false
  readonly #health = new Map<string, ChannelHealth>()
  #healthTimer: NodeJS.Timeout | undefined
  #lastTick = 0
  #lateTicks = 0

  constructor(publisher: RedisClient, options: RedisBusOptions, handlers: BusHandlers) {
    this.#pub = publisher
    this.#o = options
    this.#h = handlers
    const base = `${options.prefix}:bus`
    // Sharded: one channel per slot group, each with its own hash tag so they spread over shards.
    this.#channels = options.sharded
      ? Array.from({ length: options.channels }, (_, i) => `${base}:{${i}}`)
      : [base]
    for (const ch of this.#channels) {
      this.#health.set(ch, {
        sent: 0,
        own: { seq: 0, at: 0, holes: new Map() },
        echoedAt: 0,
        brokenAt: 0,
        wholeSince: 0,
        resubscribedAt: 0,
        peers: new Map(),
      })
    }
    this.#sub = isCluster(publisher)
      ? (publisher as Cluster).duplicate(undefined, options.sharded ? { shardedSubscribers: true } : {})
      : // We resubscribe on every 'ready' ourselves: ioredis's own resubscription leaves its
        // SUBSCRIBE promise unhandled, which rejects if the connection closes before the reply.
        absorbLateSocketErrors(
          (publisher as Redis).duplicate({ enableAutoPipelining: false, autoResubscribe: false }),
        )
    this.#listen()
    this.#lastTick = Date.now()
    this.#healthTimer = setInterval(() => this.#tick(), this.#interval)
    this.#healthTimer.unref()
  }

  /** Heartbeat period: a quarter of the health window. */
  get #interval(): number {
    return Math.max(10, Math.floor(this.#o.healthWindow / 4))
  }

  /** A channel (or a peer on it) silent for longer than this is no longer shown whole. */
  get #deadline(): number {
    return Math.floor(this.#o.healthWindow / 2)
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
    clearInterval(this.#healthTimer)
    this.#flush()
    // Tell peers not to wait for our heartbeats (they would drop their L1 once, for nothing).
    for (const ch of this.#channels) this.#sendControl(ch, 'bye')
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
    const onRaw = (channel: string | Buffer, raw: Buffer) => {
      const r = decodeBusMessage(raw, this.#o.signingKeys, this.#o.maxAge)
      if (!r.ok) return this.#h.rejected(r.reason)
      this.#observe(channel.toString(), r.message)
      const type = r.message.type
      if (r.message.sender === this.#o.sender || type === 'hb' || type === 'bye') return
      this.#h.message(r.message as BusMessage & { type: BusMessageType })
    }
    if (this.#o.sharded) sub.on('smessageBuffer', onRaw)
    else sub.on('messageBuffer', onRaw)
    sub.on('error', (err: unknown) => this.#h.error(err, 'bus'))
    const markDown = () => {
      this.#subscribed = false
      this.#broken('disconnected', undefined)
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
    this.#subscribed = true
    const now = Date.now()
    for (const h of this.#health.values()) h.echoedAt = Math.max(h.echoedAt, now)
    // Whole once our own heartbeats come back on every channel: send one now, not in 250 ms.
    for (const ch of this.#channels) this.#sendControl(ch, 'hb')
  }

  /**
   * Sequence bookkeeping for one received message. A jump in a sender's sequence is a message
   * not (yet) seen: Pub/Sub keeps one connection's order on one channel, but a classic PUBLISH on
   * a cluster may enter at any node and a retried publish arrives late, so a hole is judged a
   * loss only if it is still open on the next tick.
   */
  #observe(channel: string, m: BusMessage): void {
    const h = this.#health.get(channel)
    if (h === undefined || m.seq === undefined || this.state === 'closed') return
    const now = Date.now()
    if (m.sender === this.#o.sender) {
      if (this.#track(h.own, m.seq, now, channel)) h.echoedAt = now
      this.#maybeWhole()
      return
    }
    if (m.type === 'bye') {
      h.peers.delete(m.sender)
      return
    }
    let peer = h.peers.get(m.sender)
    if (peer === undefined) {
      // A sender seen for the first time here with history behind it, while this channel has
      // been whole long enough that its earlier heartbeats should have reached us: we missed them.
      const missed = m.seq > 1 && h.wholeSince > 0 && now - h.wholeSince > 2 * this.#interval + this.#deadline
      if (h.peers.size >= PEERS_MAX) {
        const oldest = h.peers.keys().next().value
        if (oldest !== undefined) h.peers.delete(oldest)
      }
      peer = { seq: m.seq, at: now, holes: new Map() }
      h.peers.set(m.sender, peer)
      if (missed) this.#broken('gap', channel)
      return
    }
    peer.at = now
    this.#track(peer, m.seq, now, channel)
  }

  /** Advance a sender's sequence; true when it moved forward. Holes wait for the next tick. */
  #track(s: Peer, seq: number, now: number, channel: string): boolean {
    if (seq <= s.seq) {
      s.holes.delete(seq)
      return false
    }
    if (s.seq > 0) {
      if (seq - s.seq - 1 > HOLES_MAX) this.#broken('gap', channel)
      else for (let n = s.seq + 1; n < seq; n++) s.holes.set(n, now)
    }
    s.seq = seq
    return true
  }

  /** A hole older than one heartbeat period is a lost message. */
  #holesExpired(s: Peer, now: number): boolean {
    for (const at of s.holes.values()) {
      if (now - at < this.#interval) continue
      s.holes.clear()
      return true
    }
    return false
  }

  /** Heartbeat every channel, then judge silence (our own echo, and each peer's). */
  #tick(): void {
    if (this.state === 'closed') return
    const now = Date.now()
    // A late timer means this event loop was blocked: echoes may sit unread in the socket, so
    // silence cannot be judged on this tick (at most one tick in a row is forgiven).
    const late = now - this.#lastTick > 2 * this.#interval
    this.#lastTick = now
    if (late && this.#lateTicks++ < 1) {
      for (const ch of this.#channels) this.#sendControl(ch, 'hb')
      return
    }
    this.#lateTicks = 0
    for (const ch of this.#channels) {
      const h = this.#health.get(ch)
      if (h === undefined) continue
      if (this.#subscribed && h.own.seq < h.sent && now - h.echoedAt > this.#deadline) {
        this.#broken('silent', ch)
        this.#resubscribe(ch, h, now)
      }
      if (this.#holesExpired(h.own, now)) this.#broken('gap', ch)
      for (const [sender, peer] of h.peers) {
        if (this.#holesExpired(peer, now)) this.#broken('gap', ch)
        if (now - peer.at <= this.#deadline) continue
        // Gone quiet without a 'bye': crashed, or its publishes no longer reach us. Forget it
        // (it is a new peer if it comes back) and drop what it may have invalidated meanwhile.
        h.peers.delete(sender)
        this.#broken('peer-silent', ch)
      }
      this.#sendControl(ch, 'hb')
    }
  }

  /** Messages may have been missed: L1 is unknown until every channel echoes us again. */
  #broken(reason: BusUnhealthyReason, channel: string | undefined): void {
    if (this.state === 'closed') return
    for (const [ch, h] of this.#health) {
      if (channel !== undefined && ch !== channel) continue
      h.brokenAt = h.sent
      h.wholeSince = 0
    }
    // While not ready L1 is already out of use (and was cleared): nothing more to drop.
    if (this.state !== 'ready') return
    this.state = 'down'
    this.#h.down(reason, channel)
  }

  #maybeWhole(): void {
    if (this.state === 'ready' || this.state === 'closed' || !this.#subscribed) return
    const now = Date.now()
    for (const h of this.#health.values()) {
      if (h.own.seq <= h.brokenAt) return
      if (h.wholeSince === 0) h.wholeSince = now
    }
    const first = !this.#everUp
    this.#everUp = true
    this.state = 'ready'
    this.#h.up(first)
  }

  /**
   * A channel that stopped echoing us: its slot may have moved (Redis drops the sharded
   * subscriptions of migrated slots with a SUNSUBSCRIBE push that ioredis swallows, and ioredis
   * re-subscribes only after it refreshes its slot map) or the subscriber reconnected without
   * telling. Refresh the slot map, then subscribe again (idempotent on the server).
   */
  #resubscribe(channel: string, h: ChannelHealth, now: number): void {
    if (now - h.resubscribedAt < this.#deadline) return
    h.resubscribedAt = now
    const sub = this.#sub
    const again = () => {
      if (this.state === 'closed') return
      const p = this.#o.sharded ? (sub as Cluster).ssubscribe(channel) : sub.subscribe(channel)
      p.catch((err: unknown) => this.#h.error(err, 'bus:subscribe'))
    }
    if (isCluster(sub)) (sub as Cluster).refreshSlotsCache(() => again())
    else again()
  }

  #flush(): void {
    this.#flushScheduled = false
    const batches = [...this.#pending.values()]
    this.#pending.clear()
    const now = Date.now()
    for (const b of batches) {
      for (let i = 0; i < b.keys.length; i += BATCH) {
        const keys = b.keys.slice(i, i + BATCH)
        const targets = b.channel === 'all' ? this.#channels : [b.channel]
        for (const channel of targets) {
          const msg: BusMessage = { sender: this.#o.sender, type: b.type, keys, time: now }
          msg.seq = this.#nextSeq(channel)
          this.#send(channel, encodeBusMessage(msg, this.#o.signingKeys[0]), b.type, keys.length)
        }
      }
    }
  }

  #nextSeq(channel: string): number {
    const h = this.#health.get(channel)
    if (h === undefined) return 1
    h.sent += 1
    return h.sent
  }

  /**
   * Heartbeats and byes: never retried (the next one carries a newer sequence number, and a
   * missing one is exactly what receivers must notice).
   */
  #sendControl(channel: string, type: BusControlType): void {
    const msg: BusMessage = { sender: this.#o.sender, type, keys: [], time: Date.now() }
    msg.seq = this.#nextSeq(channel)
    const payload = encodeBusMessage(msg, this.#o.signingKeys[0])
    const p = this.#o.sharded
      ? (this.#pub as Cluster).spublish(channel, payload)
      : (this.#pub as Redis).publish(channel, payload)
    const done = p.catch(() => undefined)
    this.#inflight.add(done)
    void done.finally(() => this.#inflight.delete(done))
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
