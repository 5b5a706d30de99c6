import { Engine } from './engine'
import type { Entry } from './entry/envelope'
import { CacheClosedError, InvalidKeyError, isCacheError } from './errors'
import { checkKey, Keyspace } from './keys'
import {
  type CacheOptions,
  type CallOptions,
  type ResolvedCallOptions,
  resolveCacheOptions,
  resolveCallOptions,
} from './options'
import { connectRedis } from './store/connect'
import { Guard } from './store/guard'
import { MemoryStore } from './store/memory-store'
import { RedisStore } from './store/redis-store'
import type { Store } from './store/store'
import { type CacheTraceContext, cacheTrace } from './tracing'
import type { CacheEventName, CacheListener, Loader } from './types'

export interface EntryInfo {
  state: 'fresh' | 'stale' | 'gone'
  createdAt: number
  freshUntil: number
  staleUntil: number
  loadMs: number
  tags: readonly string[]
}

export interface GetOptions {
  /** Return a stale value (past freshUntil, before staleUntil) instead of undefined. @default false */
  allowStale?: boolean
}

/**
 * A cache (or a namespace of one). Namespaces share connections, events and the in-process
 * state of their parent; each has its own keyspace and option layer.
 */
export class Cache {
  readonly #engine: Engine
  readonly #keys: Keyspace
  readonly #call: ResolvedCallOptions
  readonly #maxKey: number
  readonly #resolved = new WeakMap<CallOptions, ResolvedCallOptions>()

  /** @internal use createCache() */
  constructor(engine: Engine, keys: Keyspace, call: ResolvedCallOptions) {
    this.#engine = engine
    this.#keys = keys
    this.#call = call
    this.#maxKey = engine.options.maxKeyLength
  }

  /** The store behind L2: 'memory' (embedded) or 'redis'. */
  get storeKind(): Store['kind'] {
    return this.#engine.store.kind
  }

  /** The prefix every key and channel of this cache begins with. */
  get prefix(): string {
    return this.#keys.prefix
  }

  /** Full Redis key of an entry (for debugging and tests). */
  entryKey(key: string): string {
    checkKey(key, this.#maxKey)
    return this.#keys.entry(key)
  }

  /**
   * The value for `key`: from cache when fresh; stale at once while one caller refreshes it;
   * otherwise from `loader`, run once per key per expiry across every process.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<T> {
    let o: ResolvedCallOptions
    try {
      checkKey(key, this.#maxKey)
      if (typeof loader !== 'function') throw new InvalidKeyError('getOrSet needs a loader function.', key)
      if (this.#engine.closed) throw new CacheClosedError()
      o = options === undefined ? this.#call : this.#resolve(options)
    } catch (err) {
      return Promise.reject(err)
    }
    if (cacheTrace.hasSubscribers) {
      const ctx: CacheTraceContext = { operation: 'getOrSet', key, prefix: this.#keys.prefix }
      return cacheTrace.tracePromise(() => this.#readThrough(this.#keys.entry(key), key, loader, o, ctx), ctx)
    }
    return this.#readThrough(this.#keys.entry(key), key, loader, o, undefined)
  }

  async #readThrough<T>(
    k: string,
    key: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    trace: CacheTraceContext | undefined,
  ): Promise<T> {
    const engine = this.#engine
    let entry: Entry | undefined
    try {
      entry = await engine.readEntry(k, key)
    } catch (err) {
      engine.storeFailed(err, o, 'get', key)
    }
    if (entry !== undefined) {
      const now = Date.now()
      const tagged = entry.tags.length > 0 && engine.hooks.tagInvalidated !== undefined
      if (tagged && (await engine.hooks.tagInvalidated?.(entry))) {
        entry.freshUntil = 0
      }
      if (now < entry.freshUntil) {
        engine.emit('hit', { key, tier: 'l2' })
        if (trace !== undefined) Object.assign(trace, { tier: 'l2', result: 'hit' })
        engine.hooks.onWrite?.(k, entry)
        const beta = o.earlyRefreshBeta
        // XFetch: refresh early with probability rising as expiry nears, scaled by load time.
        if (
          beta > 0 &&
          entry.loadMs > 0 &&
          now - entry.loadMs * beta * Math.log(Math.random()) >= entry.freshUntil
        ) {
          engine.refreshInBackground(k, key, loader, o, entry)
        }
        return entry.value as T
      }
      if (now < entry.staleUntil) {
        if (o.staleWhileRevalidate) {
          engine.emit('stale', { key, tier: 'l2', reason: 'revalidate' })
          if (trace !== undefined) Object.assign(trace, { tier: 'l2', result: 'stale' })
          engine.refreshInBackground(k, key, loader, o, entry)
          return entry.value as T
        }
        engine.emit('miss', { key, tier: 'l2' })
        return engine.load(k, key, loader, o, entry)
      }
    }
    engine.emit('miss', { key, tier: 'l2' })
    if (trace !== undefined) Object.assign(trace, { tier: 'loader', result: 'miss' })
    return engine.load(k, key, loader, o, undefined)
  }

  /** The fresh value, or undefined (stale too with `allowStale`). Fails open to undefined. */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    checkKey(key, this.#maxKey)
    this.#open()
    const engine = this.#engine
    let entry: Entry | undefined
    try {
      entry = await engine.readEntry(this.#keys.entry(key), key)
    } catch (err) {
      engine.storeFailed(err, this.#call, 'get', key)
      return undefined
    }
    if (entry === undefined) {
      engine.emit('miss', { key, tier: 'l2' })
      return undefined
    }
    const now = Date.now()
    const invalid = entry.tags.length > 0 && (await engine.hooks.tagInvalidated?.(entry)) === true
    if (now < entry.freshUntil && !invalid) {
      engine.emit('hit', { key, tier: 'l2' })
      return entry.value as T
    }
    if (options?.allowStale === true && now < entry.staleUntil) {
      engine.emit('stale', { key, tier: 'l2', reason: 'revalidate' })
      return entry.value as T
    }
    engine.emit('miss', { key, tier: 'l2' })
    return undefined
  }

  /** Metadata of the stored entry (no value), for debugging: freshness deadlines, tags, load time. */
  async inspect(key: string): Promise<EntryInfo | undefined> {
    checkKey(key, this.#maxKey)
    this.#open()
    const e = await this.#engine.readEntry(this.#keys.entry(key), key)
    if (e === undefined) return undefined
    const now = Date.now()
    const state = now < e.freshUntil ? 'fresh' : now < e.staleUntil ? 'stale' : 'gone'
    return {
      state,
      createdAt: e.createdAt,
      freshUntil: e.freshUntil,
      staleUntil: e.staleUntil,
      loadMs: e.loadMs,
      tags: e.tags,
    }
  }

  /** True when a fresh entry exists. */
  async has(key: string): Promise<boolean> {
    checkKey(key, this.#maxKey)
    this.#open()
    try {
      const e = await this.#engine.readEntry(this.#keys.entry(key), key)
      if (e === undefined || Date.now() >= e.freshUntil) return false
      return !(e.tags.length > 0 && (await this.#engine.hooks.tagInvalidated?.(e)) === true)
    } catch (err) {
      this.#engine.storeFailed(err, this.#call, 'has', key)
      return false
    }
  }

  /**
   * Store a value. Values msgpack cannot encode or over maxValueBytes reject with a coded
   * error and leave nothing behind; Redis trouble fails open (an 'error' event) unless failOpen is false.
   */
  async set<T>(key: string, value: T, options?: CallOptions): Promise<void> {
    checkKey(key, this.#maxKey)
    this.#open()
    if (value === undefined)
      throw new InvalidKeyError('set() needs a value; undefined is never cached (use delete()).', key)
    const o = options === undefined ? this.#call : this.#resolve(options)
    const engine = this.#engine
    const k = this.#keys.entry(key)
    const { entry, px } = engine.makeEntry(value, o, 0)
    const encoded = engine.tryEncode(key, entry)
    if (!Buffer.isBuffer(encoded)) throw encoded
    const refused = engine.hooks.beforeWrite?.(k, key)
    if (refused !== undefined) {
      engine.skipped(key, 'write-guard', refused)
      return
    }
    try {
      await engine.guard.call('SET', key, () => engine.store.set(k, encoded, px))
    } catch (err) {
      engine.storeFailed(err, o, 'set', key)
      return
    }
    engine.emit('write', { key, bytes: encoded.length, fenced: false })
    engine.notifier.notify(k)
    engine.hooks.onWrite?.(k, entry)
  }

  /** Remove entries everywhere (L2 and every process's L1). Resolves to how many existed in L2. */
  async delete(keys: string | readonly string[]): Promise<number> {
    const list = this.#keyList(keys)
    const engine = this.#engine
    const full = list.map((k) => this.#keys.entry(k))
    engine.hooks.onInvalidate?.('delete', full)
    let n = 0
    try {
      n = await engine.guard.call('UNLINK', list[0], () => engine.store.delete(full))
    } catch (err) {
      engine.storeFailed(err, this.#call, 'delete', list[0])
    }
    engine.emit('delete', { keys: list })
    return n
  }

  /**
   * Mark entries stale: the copy stays as a fallback (and keeps its LFU history), the next
   * getOrSet serves it and refreshes. Resolves to how many entries were marked.
   */
  async expire(keys: string | readonly string[]): Promise<number> {
    const list = this.#keyList(keys)
    const engine = this.#engine
    const full = list.map((k) => this.#keys.entry(k))
    engine.hooks.onInvalidate?.('expire', full)
    let n = 0
    try {
      const marked = await Promise.all(
        full.map((k, i) => engine.guard.call('EVALSHA', list[i], () => engine.store.markStale(k, 0))),
      )
      n = marked.filter(Boolean).length
    } catch (err) {
      engine.storeFailed(err, this.#call, 'expire', list[0])
    }
    engine.emit('expire', { keys: list })
    return n
  }

  /** A view with its own keyspace (and option layer) over the same connections. */
  namespace(name: string, options?: CallOptions): Cache {
    return new Cache(
      this.#engine,
      this.#keys.child(name),
      resolveCallOptions(this.#call, options, 'namespace options'),
    )
  }

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.on(event, listener)
    return this
  }

  once<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.once(event, listener)
    return this
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.off(event, listener)
    return this
  }

  /** Wait for background refreshes, then close the connections Herdless created. Idempotent. */
  async close(): Promise<void> {
    const engine = this.#engine
    if (engine.closed) return
    engine.closed = true
    engine.notifier.wakeAll()
    await Promise.allSettled([...engine.background])
    await engine.store.close()
  }

  #resolve(options: CallOptions): ResolvedCallOptions {
    // Callers that hoist their options object pay for resolution once.
    let r = this.#resolved.get(options)
    if (r === undefined) {
      r = resolveCallOptions(this.#call, options)
      this.#resolved.set(options, r)
    }
    return r
  }

  #keyList(keys: string | readonly string[]): string[] {
    this.#open()
    const list = typeof keys === 'string' ? [keys] : Array.isArray(keys) ? [...keys] : undefined
    if (list === undefined) throw new InvalidKeyError('Expected a key or an array of keys.', keys)
    for (const k of list) checkKey(k, this.#maxKey)
    return list
  }

  #open(): void {
    if (this.#engine.closed) throw new CacheClosedError()
  }
}

/**
 * Create a cache. With no `redis`, the embedded in-memory store (one process). Invalid
 * options throw InvalidOptionError (E_INVALID_OPTION) here, never later.
 */
export function createCache(options?: CacheOptions): Cache {
  const resolved = resolveCacheOptions(options)
  let store: Store
  let guard: Guard
  if (options?.redis === undefined) {
    store = new MemoryStore(resolved.memoryMaxEntries)
    guard = new Guard(0, 0, 0)
  } else {
    const { client, owned } = connectRedis(options.redis)
    store = new RedisStore(client, owned)
    guard = new Guard(resolved.redisTimeout, resolved.breakerThreshold, resolved.breakerCooldown)
  }
  const engine = new Engine(store, guard, resolved)
  if (store instanceof RedisStore && isOwned(options)) {
    // ioredis logs unhandled 'error' events loudly; route them to ours.
    store.client.on('error', (err: unknown) => {
      const e = isCacheError(err) ? err : undefined
      engine.storeFailed(e ?? err, { ...resolved.call, failOpen: true }, 'connection')
    })
  }
  return new Cache(engine, new Keyspace(resolved.prefix), resolved.call)
}

function isOwned(options: CacheOptions | undefined): boolean {
  const r = options?.redis
  return r !== undefined && !(typeof r === 'object' && r !== null && 'sendCommand' in r)
}
