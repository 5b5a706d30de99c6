import type { Coherence } from './bus/coherence'
import { Engine } from './engine'
import { classify, type Freshness, refreshEarly } from './entry/classify'
import type { Entry } from './entry/envelope'
import { CacheClosedError, InvalidKeyError, InvalidOptionError, isCacheError } from './errors'
import { checkKey, escapeGlob, Keyspace } from './keys'
import { L1Cache, l1Now } from './l1/l1-cache'
import { RedlockLock } from './lock/redlock-lock'
import {
  type CacheOptions,
  type CallOptions,
  type ResolvedCallOptions,
  resolveCacheOptions,
  resolveCallOptions,
} from './options'
import { adaptClient } from './store/adapt'
import { busPublisher } from './store/bus-facade'
import { connectRedis } from './store/connect'
import { Guard } from './store/guard'
import { IoredisClient } from './store/ioredis-client'
import { globToRegExp, MemoryStore } from './store/memory-store'
import { RedisStore } from './store/redis-store'
import type { Store } from './store/store'
import { startTopology, stopTopology, topologyOf } from './topology/attach'
import type { WriteGuardStats } from './topology/write-guard'
import { type CacheTraceContext, cacheTrace } from './tracing'
import type { CacheEventName, CacheListener, CacheResult, Loader, TopologySnapshot } from './types'
import { batchLengthError, checkLoader, checkValue } from './validate'

/** What `cache.inspect(key)` reports about an entry. */
export interface EntryInfo {
  /** Fresh (served), stale (served as a fallback), or gone. */
  state: 'fresh' | 'stale' | 'gone'
  /** When the value was loaded (ms since the epoch). */
  createdAt: number
  /** Fresh until this time (ms since the epoch). */
  freshUntil: number
  /** Usable as a stale fallback until this time (ms since the epoch). */
  staleUntil: number
  /** How long the loader took, in ms (weights early refresh). */
  loadMs: number
  /** The entry's tags. */
  tags: readonly string[]
}

/** Options of `cache.get()`. */
export interface GetOptions {
  /** Return a stale value (past freshUntil, before staleUntil) instead of undefined. @default false */
  allowStale?: boolean
}

const TAG_KEY = /^(?:[A-Za-z0-9_.-]+:)*tag:\{/

/** createCache's way in: the constructor is private, so its internal arguments are no API. */
let newCache: (engine: Engine, keys: Keyspace, call: ResolvedCallOptions) => Cache

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
  readonly #co: Coherence
  readonly #clone: boolean
  /** This namespace's key base: L1 is keyed by the caller's key plus this (no string built per hit). */
  readonly #base: string

  static {
    newCache = (engine, keys, call) => new Cache(engine, keys, call)
  }

  /** Use createCache() (or `cache.namespace()`). */
  private constructor(engine: Engine, keys: Keyspace, call: ResolvedCallOptions) {
    this.#engine = engine
    this.#keys = keys
    this.#call = call
    this.#maxKey = engine.options.maxKeyLength
    this.#clone = engine.options.l1 !== false && engine.options.l1.clone
    this.#base = engine.coherence.l1?.intern(keys.base) ?? keys.base
    this.#co = engine.coherence
  }

  /** Entries currently held in this process's L1 tier (0 without L1). */
  get l1Size(): number {
    return this.#co.l1?.size ?? 0
  }

  /** The store behind L2: 'memory' (embedded) or 'redis'. */
  get storeKind(): 'memory' | 'redis' {
    return this.#engine.store.kind
  }

  /** The prefix every key and channel of this cache begins with. */
  get prefix(): string {
    return this.#keys.prefix
  }

  /** The topology monitor's latest snapshot (`topology` option, Redis L2), else undefined. */
  get topology(): TopologySnapshot | undefined {
    return topologyOf(this.#engine)?.monitor.snapshot
  }

  /** Write-guard figures (`writeGuard` option): the ratio and how many writes it skipped. */
  get writeGuard(): WriteGuardStats | undefined {
    return topologyOf(this.#engine)?.guard
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
    // The L1 hit first, before validation: a key that is not a valid string was never stored in
    // L1, so it cannot hit; everything else (the loader, closed, tracing) is checked as usual.
    if (options === undefined && typeof loader === 'function' && !this.#engine.closed) {
      if (!cacheTrace.hasSubscribers) {
        const hit = this.#hitL1(key, loader, this.#call, false)
        if (hit !== undefined) return hit as Promise<T>
      }
    }
    return this.#entry(key, loader, options, false) as Promise<T>
  }

  /** getOrSet, also saying where the value came from (`l1`, `l2`, `loader`, `stale`, ...). */
  getOrSetResult<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<CacheResult<T>> {
    return this.#entry(key, loader, options, true) as Promise<CacheResult<T>>
  }

  #entry<T>(
    key: string,
    loader: Loader<T>,
    options: CallOptions | undefined,
    withSource: boolean,
  ): Promise<T | CacheResult<T>> {
    let o: ResolvedCallOptions
    try {
      checkKey(key, this.#maxKey)
      checkLoader(loader, 'getOrSet', key)
      if (this.#engine.closed) throw new CacheClosedError()
      o = options === undefined ? this.#call : this.#resolve(options)
    } catch (err) {
      return Promise.reject(err)
    }
    if (cacheTrace.hasSubscribers) {
      const ctx: CacheTraceContext = { operation: 'getOrSet', key, prefix: this.#keys.prefix }
      return cacheTrace.tracePromise(() => this.#lookup(key, loader, o, ctx, withSource), ctx)
    }
    return this.#lookup(key, loader, o, undefined, withSource)
  }

  /** L1, then L2 and the loader. Not async: an L1 hit costs no extra promise hop. */
  #lookup<T>(
    key: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    trace: CacheTraceContext | undefined,
    withSource: boolean,
  ): Promise<T | CacheResult<T>> {
    const co = this.#co
    if (co.l1 !== undefined && co.l1Usable && !o.skipL1) {
      const hit = this.#hitL1(key, loader, o, withSource)
      if (hit !== undefined) {
        if (trace !== undefined) Object.assign(trace, { tier: 'l1', outcome: 'hit' })
        return hit
      }
      if (this.#engine.wants('miss')) this.#engine.emit('miss', { key, tier: 'l1' })
    }
    return this.#readThrough(this.#keys.entry(key), key, loader, o, trace, withSource)
  }

  /** A fresh L1 item as the answer (undefined: none; L1 usable and wanted is the caller's check). */
  #hitL1<T>(
    key: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    withSource: boolean,
  ): Promise<T | CacheResult<T>> | undefined {
    const co = this.#co
    const l1 = co.l1
    if (l1 === undefined || !co.l1Usable || o.skipL1) return undefined
    const item = l1.get(key, this.#base)
    if (item === undefined) return undefined
    const now = l1Now()
    if (now >= item.until || (item.tags.length !== 0 && co.tagStaleSync(item, item.full) !== false))
      return undefined
    const engine = this.#engine
    if (engine.wantsHit) engine.emit('hit', { key, tier: 'l1' })
    if (refreshEarly(item, now, o.earlyRefreshBeta)) {
      engine.refreshInBackground(item.full, key, loader, o, item as unknown as Entry)
    }
    const value = (this.#clone ? structuredClone(item.value) : item.value) as T
    return Promise.resolve(withSource ? { value, source: 'l1' } : value)
  }

  async #readThrough<T>(
    k: string,
    key: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    trace: CacheTraceContext | undefined,
    withSource: boolean,
  ): Promise<T | CacheResult<T>> {
    const engine = this.#engine
    // The epoch this read began in: an invalidation arriving while it runs fences its L1 fill.
    const since = engine.epochs.now()
    let entry: Entry | undefined
    try {
      entry = await engine.readShared(k, key, since)
    } catch (err) {
      engine.storeFailed(err, o.failOpen, 'get', key)
    }
    let stale: Entry | undefined
    if (entry !== undefined) {
      // Untagged (the common hit): classified without a promise of its own.
      const state =
        entry.tags.length === 0 ? classify(entry, Date.now()) : await engine.classify(entry, k, o.failOpen)
      if (state === 'fresh') {
        if (engine.wants('hit')) engine.emit('hit', { key, tier: 'l2' })
        if (trace !== undefined) Object.assign(trace, { tier: 'l2', outcome: 'hit' })
        if (!o.skipL1) engine.fill(k, entry, since, key)
        if (refreshEarly(entry, Date.now(), o.earlyRefreshBeta)) {
          engine.refreshInBackground(k, key, loader, o, entry)
        }
        return withSource ? { value: entry.value as T, source: 'l2' } : (entry.value as T)
      }
      if (state === 'stale') {
        if (o.staleWhileRevalidate && entry.invalidated !== true) {
          engine.emit('stale', { key, tier: 'l2', reason: 'revalidate' })
          if (trace !== undefined) Object.assign(trace, { tier: 'l2', outcome: 'stale' })
          engine.refreshInBackground(k, key, loader, o, entry)
          return withSource ? { value: entry.value as T, source: 'stale' } : (entry.value as T)
        }
        stale = entry
      }
    }
    if (engine.wants('miss')) engine.emit('miss', { key, tier: 'l2' })
    if (trace !== undefined) Object.assign(trace, { tier: 'loader', outcome: 'miss' })
    const out = await engine.load(k, key, loader, o, stale, since)
    return withSource ? out : out.value
  }

  /** The fresh value, or undefined (stale too with `allowStale`). Fails open to undefined. */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    checkKey(key, this.#maxKey)
    this.#open()
    const engine = this.#engine
    const k = this.#keys.entry(key)
    const item = this.#l1Item(key)
    if (item !== undefined) {
      engine.emit('hit', { key, tier: 'l1' })
      return this.#out(item.value) as T
    }
    const since = engine.epochs.now()
    let entry: Entry | undefined
    try {
      entry = await engine.read(k, key)
    } catch (err) {
      engine.storeFailed(err, this.#call.failOpen, 'get', key)
      return undefined
    }
    const state = entry === undefined ? 'gone' : await engine.classify(entry, k, this.#call.failOpen)
    if (entry !== undefined && state === 'fresh') {
      engine.emit('hit', { key, tier: 'l2' })
      engine.fill(k, entry, since, key)
      return entry.value as T
    }
    if (entry !== undefined && state === 'stale' && options?.allowStale === true) {
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
    const k = this.#keys.entry(key)
    let e: Entry | undefined
    try {
      e = await this.#engine.read(k, key)
    } catch (err) {
      this.#engine.storeFailed(err, this.#call.failOpen, 'inspect', key)
      return undefined
    }
    if (e === undefined) return undefined
    return {
      // Tags included: inspect() agrees with has() after invalidateTags.
      state: await this.#engine.classify(e, k, this.#call.failOpen),
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
    const k = this.#keys.entry(key)
    try {
      const e = await this.#engine.read(k, key)
      return e !== undefined && (await this.#engine.classify(e, k, this.#call.failOpen)) === 'fresh'
    } catch (err) {
      this.#engine.storeFailed(err, this.#call.failOpen, 'has', key)
      return false
    }
  }

  /**
   * Store a value. It fences every load of the key in flight anywhere (their older values are
   * not stored). Values msgpack cannot encode or over maxValueBytes reject with a coded error and
   * leave nothing behind; Redis trouble fails open (an 'error' event, the key dropped from L1
   * and the bus told) unless failOpen is false.
   */
  async set<T>(key: string, value: T, options?: CallOptions): Promise<void> {
    checkKey(key, this.#maxKey)
    this.#open()
    checkValue(value, key)
    const o = options === undefined ? this.#call : this.#resolve(options)
    await this.#engine.set(this.#keys.entry(key), key, value, o)
  }

  /** Remove entries everywhere (L2 and every process's L1). Resolves to how many existed in L2. */
  async delete(keys: string | readonly string[]): Promise<number> {
    return this.#invalidate('delete', keys)
  }

  /**
   * Mark entries stale: the copy stays as a fallback (and keeps its LFU history), the next
   * getOrSet serves it and refreshes. Resolves to how many entries were marked.
   */
  async expire(keys: string | readonly string[]): Promise<number> {
    return this.#invalidate('expire', keys)
  }

  #invalidate(type: 'delete' | 'expire', keys: string | readonly string[]): Promise<number> {
    const list = this.#keyList(keys)
    const full = list.map((k) => this.#keys.entry(k))
    return this.#engine.invalidate(type, full, list, this.#call.failOpen)
  }

  /**
   * Invalidate every entry carrying one of `tags`: O(1) per tag (a timestamp under
   * `<prefix>:tag:{tag}` compared with when each entry's load began), no SCAN. Such an entry is
   * a stale-if-error fallback only: the next read loads anew and waits for the new value
   * rather than receive the old one while another process reloads (docs/consistency.md).
   */
  async invalidateTags(tags: string | readonly string[]): Promise<void> {
    this.#open()
    const list = typeof tags === 'string' ? [tags] : Array.isArray(tags) ? [...tags] : undefined
    if (
      list === undefined ||
      !list.every((t) => typeof t === 'string' && t.length > 0 && t.length <= this.#maxKey)
    ) {
      throw new InvalidKeyError('invalidateTags needs a tag or an array of non-empty string tags.', tags)
    }
    await this.#engine.invalidateTags(
      list.map((t) => this.#keys.tag(t)),
      this.#call.failOpen,
    )
  }

  /**
   * Delete every entry of this namespace whose key matches a Redis glob (`user:*`), with
   * SCAN + UNLINK on every primary in bounded batches. Resolves to the number deleted.
   */
  async invalidatePattern(pattern: string): Promise<number> {
    this.#open()
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > this.#maxKey) {
      throw new InvalidKeyError('invalidatePattern needs a non-empty glob string.', pattern)
    }
    // Entries and their leases: `<base>{<pattern>}`, `...}:lock`, `...}:lease`.
    const entry = this.#keys.scanPattern(pattern)
    const entryRe = globToRegExp(entry)
    const leaseRe = globToRegExp(`${entry}:lock`)
    const quorumRe = globToRegExp(`${entry}:lease`)
    return this.#engine.deleteMatching(
      'pattern',
      `${entry}*`,
      (k) => entryRe.test(k) || leaseRe.test(k) || quorumRe.test(k),
      this.#call.failOpen,
    )
  }

  /** Remove every entry of this namespace (and their leases) on every primary; tag times stay. */
  async clear(): Promise<number> {
    this.#open()
    // Tag times stay: deleted while an entry they invalidate is still there, or while a load
    // that began before a concurrent invalidateTags still runs, they would make that entry valid
    // again (found by the history checker). A few bytes per tag; they only ever invalidate
    // entries older than themselves. Tag keys: `<base>[<ns>:]*tag:{...}` (no namespace is `tag`).
    const base = this.#keys.base
    return this.#engine.deleteMatching(
      'clear',
      `${escapeGlob(base)}*`,
      (k) => !TAG_KEY.test(k.slice(base.length)),
      this.#call.failOpen,
    )
  }

  /** Fresh values for many keys: L1 first, then one round trip per node. Missing → undefined. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    const list = this.#keyList(keys)
    const read = await this.#readMany(list, this.#call)
    return read.map((r) => (r.state === 'fresh' ? (r.entry?.value as T) : undefined))
  }

  /**
   * getOrSet for many keys: hits come from L1/L2 in one round trip per node; the misses this
   * process wins the lease for are loaded with ONE `batchLoader` call; misses another process
   * is loading are awaited like getOrSet waiters. `batchLoader` returns values aligned with
   * the keys it was given (undefined = do not cache).
   */
  async getOrSetMany<T>(
    keys: readonly string[],
    batchLoader: (keys: string[]) => Promise<ReadonlyArray<T | undefined>> | ReadonlyArray<T | undefined>,
    options?: CallOptions,
  ): Promise<Array<T | undefined>> {
    const list = this.#keyList(keys)
    checkLoader(batchLoader, 'getOrSetMany')
    const o = options === undefined ? this.#call : this.#resolve(options)
    const since = this.#engine.epochs.now()
    const read = await this.#readMany(list, o)
    const out: Array<T | undefined> = new Array<T | undefined>(list.length).fill(undefined)
    const misses: number[] = []
    read.forEach((r, i) => {
      if (r.state === 'fresh') out[i] = r.entry?.value as T
      else misses.push(i)
    })
    if (misses.length === 0) return out
    const loaded = await this.#engine.loadMany(
      misses.map((i) => {
        const key = list[i] as string
        const r = read[i] as (typeof read)[number]
        return { k: this.#keys.entry(key), userKey: key, stale: r.state === 'stale' ? r.entry : undefined }
      }),
      batchLoader,
      o,
      since,
      batchLengthError,
    )
    misses.forEach((i, j) => {
      out[i] = loaded[j]
    })
    return out
  }

  /** L1 first, then L2 (one round trip per node), each classified with its tags. */
  async #readMany(
    list: readonly string[],
    o: ResolvedCallOptions,
  ): Promise<Array<{ entry: Entry | undefined; state: Freshness }>> {
    const engine = this.#engine
    const out: Array<{ entry: Entry | undefined; state: Freshness }> = list.map(() => ({
      entry: undefined,
      state: 'gone',
    }))
    const need: number[] = []
    list.forEach((key, i) => {
      const item = this.#l1Item(key)
      if (item !== undefined) out[i] = { entry: item as unknown as Entry, state: 'fresh' }
      else need.push(i)
    })
    if (need.length === 0) return out
    const since = engine.epochs.now()
    const full = need.map((i) => this.#keys.entry(list[i] as string))
    const entries = await engine.readMany(
      full,
      need.map((i) => list[i] as string),
      o.failOpen,
    )
    await Promise.all(
      need.map(async (i, j) => {
        const e = entries[j]
        if (e === undefined) return
        const k = full[j] as string
        const state = await engine.classify(e, k, o.failOpen)
        out[i] = { entry: e, state }
        if (state === 'fresh' && !o.skipL1) engine.fill(k, e, since, list[i])
      }),
    )
    return out
  }

  /** A view with its own keyspace (and option layer) over the same connections. */
  namespace(name: string, options?: CallOptions): Cache {
    return new Cache(
      this.#engine,
      this.#keys.child(name),
      resolveCallOptions(this.#call, options, 'namespace options'),
    )
  }

  /** Listen to an event (see {@link CacheEvents}). */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.on(event, listener)
    return this
  }

  /** Listen to the next occurrence of an event only. */
  once<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.once(event, listener)
    return this
  }

  /** Stop listening. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#engine.emitter.off(event, listener)
    return this
  }

  /**
   * Stop, within a bounded time even when Redis stopped answering: give back the leases this
   * process holds, wait (at most 2 s) for background refreshes, then close the connections
   * Herdless created (each QUIT cut after 1 s). Idempotent.
   */
  close(): Promise<void> {
    const engine = this.#engine
    return engine.close(() => stopTopology(engine))
  }

  /** A fresh, usable L1 item (tag-checked), or undefined. */
  #l1Item(key: string) {
    const co = this.#co
    if (co.l1 === undefined || !co.l1Usable) return undefined
    const item = co.l1.get(key, this.#base)
    if (item === undefined || Date.now() >= item.until) return undefined
    if (item.tags.length > 0 && co.tagStaleSync(item, item.full) !== false) return undefined
    return item
  }

  #out(value: unknown): unknown {
    return this.#clone ? structuredClone(value) : value
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
  // A quorum lock over the user's independent primaries (their clients: never closed by us).
  // Built before any connection, so bad lock.clients throw without leaking one.
  const redlock =
    resolved.redlock !== undefined
      ? new RedlockLock(options?.lock?.clients ?? [], resolved.redlock)
      : undefined
  let store: Store
  let guard: Guard
  if (options?.redis === undefined) {
    store = new MemoryStore(resolved.memoryMaxEntries)
    guard = new Guard(0, 0, 0)
  } else {
    const { client: raw, owned } = connectRedis(options.redis)
    const client = adaptClient(raw)
    if (resolved.bus !== false && resolved.bus.sharded && !client.shardedPubSub) {
      throw new InvalidOptionError(
        'bus.sharded',
        'false with this client: its Cluster cannot hold sharded subscriptions (iovalkey 0.4); ioredis 5.9+/6 and node-redis 5 can',
        true,
      )
    }
    store = new RedisStore(client, owned)
    // On a cluster, one circuit per primary: the node serving the routed key's slot.
    const partition = client.cluster ? (k: string) => client.slotOwner(k) : undefined
    guard = new Guard(resolved.redisTimeout, resolved.breakerThreshold, resolved.breakerCooldown, partition)
  }
  const l1 =
    resolved.l1 === false ? undefined : new L1Cache(resolved.l1.max, resolved.l1.maxBytes, resolved.l1.ttl)
  const engine = new Engine({
    store,
    guard,
    options: resolved,
    quorum: redlock,
    l1,
    // The bus still speaks ioredis: other clients reach it through an ioredis-shaped facade.
    publisher:
      store instanceof RedisStore
        ? store.client instanceof IoredisClient
          ? store.client.raw
          : busPublisher(store.client)
        : undefined,
  })
  const topology = store instanceof RedisStore ? startTopology(engine, store.client) : undefined
  const writeGuard = topology?.guard
  if (writeGuard !== undefined) engine.useWriteGuard((k, userKey) => writeGuard.check(k, userKey))
  if (store instanceof RedisStore && isOwned(options)) {
    // ioredis logs unhandled 'error' events loudly; route them to ours.
    store.client.on('error', (err: unknown) => {
      const e = isCacheError(err) ? err : undefined
      engine.storeFailed(e ?? err, true, 'connection')
    })
  }
  return newCache(engine, new Keyspace(resolved.prefix), resolved.call)
}

function isOwned(options: CacheOptions | undefined): boolean {
  const r = options?.redis
  return r !== undefined && !(typeof r === 'object' && r !== null && 'sendCommand' in r)
}
