import { EventEmitter } from 'node:events'
import type { Client, Subscriber } from './client'
import type { RedisClient } from './scripts'

/**
 * The ioredis-shaped publisher bus/redis-bus.ts takes, over any client seam (node-redis today).
 * Interim: the bus still speaks ioredis's API (publish/spublish, duplicate(), subscribe/ssubscribe,
 * messageBuffer/smessageBuffer and connection events); once it is moved onto the seam itself
 * (Client.subscriber), this file goes. It covers exactly what RedisBus calls, nothing more.
 */
export function busPublisher(client: Client): RedisClient {
  const publisher = {
    isCluster: client.cluster,
    get status() {
      return client.status
    },
    publish: (channel: string, payload: Buffer) => client.publish(channel, payload),
    spublish: (channel: string, payload: Buffer) => client.spublish(channel, payload),
    /** RedisBus: `duplicate(undefined, { shardedSubscribers })` on a cluster, `duplicate({...})` standalone. */
    duplicate: (_options?: unknown, cluster?: { shardedSubscribers?: boolean }) =>
      new SubscriberFacade(client, cluster?.shardedSubscribers === true),
  }
  return publisher as unknown as RedisClient
}

/** A subscriber connection that emits what an ioredis subscriber emits. */
class SubscriberFacade extends EventEmitter {
  readonly #sub: Subscriber
  status: 'connecting' | 'ready' | 'end' = 'connecting'

  constructor(client: Client, sharded: boolean) {
    super()
    this.#sub = client.subscriber(sharded, (channel, message, isSharded) =>
      this.emit(isSharded ? 'smessageBuffer' : 'messageBuffer', channel, message),
    )
    this.#sub.on('ready', () => {
      this.status = 'ready'
      this.emit('ready')
    })
    this.#sub.on('down', () => {
      if (this.status === 'end') return
      this.status = 'connecting'
      this.emit('close')
    })
    this.#sub.on('error', (err) => {
      // Without a listener an 'error' event throws; RedisBus listens, but be safe.
      if (this.listenerCount('error') > 0) this.emit('error', err)
    })
  }

  subscribe(...channels: string[]): Promise<void> {
    return this.#sub.subscribe(channels, false)
  }

  ssubscribe(channel: string): Promise<void> {
    return this.#sub.subscribe([channel], true)
  }

  async quit(): Promise<void> {
    this.status = 'end'
    await this.#sub.close(1_000)
  }

  disconnect(): void {
    this.status = 'end'
    void this.#sub.close(0)
  }
}
