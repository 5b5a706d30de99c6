import { Coherence } from './bus/coherence'
import { Engine, newToken } from './engine'
import { decodeEntry, type Entry } from './entry/envelope'
import { CacheClosedError, type CacheError, InvalidKeyError, isCacheError } from './errors'
import { checkKey, escapeGlob, Keyspace, keySlot } from './keys'
import { L1Cache } from './l1/l1-cache'
import { RedlockLock } from './lock/redlock-lock'
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
import { isCluster, RedisStore } from './store/redis-store'
import type { Store } from './store/store'
import { startTopology, stopTopology, topologyOf } from './topology/attach'
import type { WriteGuardStats } from './topology/write-guard'
import { type CacheTraceContext, cacheTrace } from './tracing'
import type { CacheEventName, CacheListener, Loader, TopologySnapshot } from './types'

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
  readonly #co: Coherence
  readonly #clone: boolean
  /** Root namespace: L1 is keyed by the caller's key (no entry-key string on a hit). */
  readonly #root: boolean

  /** @internal use createCache() */
  constructor(engine: Engine, keys: Keyspace, call: ResolvedCallOptions) {
    this.#engine = engine
    this.#keys = keys
    this.#call = call
    this.#maxKey = engine.options.maxKeyLength
    this.#clone = engine.options.l1 !== false && engine.options.l1.clone
    this.#root = keys.base === `${keys.prefix}:`
    const co = engine.coherence
    if (co === undefined) throw new Error('internal: engine has no coherence layer')
    this.#co = co
  }

  /** Entries currently held in this process's L1 tier (0 without L1). */
  get l1Size(): number {
    return this.#co.l1?.size ?? 0
  }

  /** The store behind L2: 'memory' (embedded) or 'redis'. */
  get storeKind(): Store['kind'] {
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
      return cacheTrace.tracePromise(() => this.#lookup(key, loader, o, ctx), ctx)
    }
    return this.#lookup(key, loader, o, undefined)
  }

  /** L1, then L2 and the loader. Not async: an L1 hit costs no extra promise hop. */
  #lookup<T>(
    key: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    trace: CacheTraceContext | undefined,
  ): Promise<T> {
    const co = this.#co
    if (co.l1 !== undefined && co.l1Usable && !o.skipL1) {
      const root = this.#root
      const item = co.l1.get(root ? key : this.#keys.entry(key), root)
      if (item !== undefined) {
        const now = Date.now()
        if (now < item.until && (item.tags.length === 0 || co.tagStaleSync(item, item.full) === false)) {
          const engine = this.#engine
          if (engine.wants('hit')) engine.emit('hit', { key, tier: 'l1' })
          const beta = o.earlyRefreshBeta
          if (
            beta > 0 &&
            item.loadMs > 0 &&
            now - item.loadMs * beta * Math.log(Math.random()) >= item.freshUntil
          ) {
            engine.refreshInBackground(item.full, key, loader, o, item as unknown as Entry)
          }
          if (trace !== undefined) Object.assign(trace, { tier: 'l1', outcome: 'hit' })
          return Promise.resolve(this.#out(item.value) as T)
        }
      }
      if (this.#engine.wants('miss')) this.#engine.emit('miss', { key, tier: 'l1' })
    }
    return this.#readThrough(this.#keys.entry(key), key, loader, o, trace)
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
      if (entry.tags.length > 0 && (await this.#co.tagInvalidated(entry, k))) {
        // Invalidated by tag: load now (no stale-while-revalidate), keeping the old value
        // only as a fallback should the loader fail.
        engine.emit('miss', { key, tier: 'l2' })
        return engine.load(k, key, loader, o, entry)
      }
      if (now < entry.freshUntil) {
        engine.emit('hit', { key, tier: 'l2' })
        if (trace !== undefined) Object.assign(trace, { tier: 'l2', outcome: 'hit' })
        if (!o.skipL1) this.#co.onFill(k, entry)
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
          if (trace !== undefined) Object.assign(trace, { tier: 'l2', outcome: 'stale' })
          engine.refreshInBackground(k, key, loader, o, entry)
          return entry.value as T
        }
        engine.emit('miss', { key, tier: 'l2' })
        return engine.load(k, key, loader, o, entry)
      }
    }
    engine.emit('miss', { key, tier: 'l2' })
    if (trace !== undefined) Object.assign(trace, { tier: 'loader', outcome: 'miss' })
    return engine.load(k, key, loader, o, undefined)
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
    let entry: Entry | undefined
    try {
      entry = await engine.readEntry(k, key)
    } catch (err) {
      engine.storeFailed(err, this.#call, 'get', key)
      return undefined
    }
    if (entry === undefined) {
      engine.emit('miss', { key, tier: 'l2' })
      return undefined
    }
    const now = Date.now()
    const invalid = entry.tags.length > 0 && (await this.#co.tagInvalidated(entry, k))
    if (invalid) {
      engine.emit('miss', { key, tier: 'l2' })
      return undefined
    }
    if (now < entry.freshUntil) {
      engine.emit('hit', { key, tier: 'l2' })
      this.#co.onFill(k, entry)
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
      return !(e.tags.length > 0 && (await this.#co.tagInvalidated(e, this.#keys.entry(key))))
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
    entry.size = encoded.length
    const refused = engine.hooks.beforeWrite?.(k, key)
    if (refused !== undefined) {
      engine.skipped(key, 'write-guard', refused)
      return
    }
    try {
      await engine.guard.call('SET', key, () => engine.store.set(k, encoded, px), k)
    } catch (err) {
      engine.storeFailed(err, o, 'set', key)
      return
    }
    engine.emit('write', { key, bytes: encoded.length, fenced: false })
    engine.notifier.notify(k)
    engine.hooks.onWrite?.(k, entry)
  }

  /** Remove entries everywhere (L2 and every process's L1). Resolves to how many existed in L2. */
  delete(keys: string | readonly string[]): Promise<number> {
    return this.#invalidate('delete', keys, (engine, list, full) =>
      // One key routes to its node's circuit; several may span nodes and share one.
      engine.guard.call(
        'UNLINK',
        list[0],
        () => engine.store.delete(full),
        full.length === 1 ? full[0] : undefined,
      ),
    )
  }

  /**
   * Mark entries stale: the copy stays as a fallback (and keeps its LFU history), the next
   * getOrSet serves it and refreshes. Resolves to how many entries were marked.
   */
  expire(keys: string | readonly string[]): Promise<number> {
    return this.#invalidate('expire', keys, async (engine, list, full) => {
      const marked = await Promise.all(
        full.map((k, i) => engine.guard.call('EVALSHA', list[i], () => engine.store.markStale(k, 0), k)),
      )
      return marked.filter(Boolean).length
    })
  }

  /**
   * The shared path of delete() and expire(): change Redis, then drop L1 and publish, then
   * report a Redis failure (fail open, or throw with failOpen: false).
   */
  async #invalidate(
    type: 'delete' | 'expire',
    keys: string | readonly string[],
    change: (engine: Engine, list: string[], full: string[]) => Promise<number>,
  ): Promise<number> {
    const list = this.#keyList(keys)
    const engine = this.#engine
    const full = list.map((k) => this.#keys.entry(k))
    let n = 0
    let failure: unknown
    try {
      n = await change(engine, list, full)
    } catch (err) {
      failure = err
    }
    // Only once Redis has answered: on a cluster the PUBLISH may reach another process before a
    // write still in flight to another node, and that process would refill its L1 from the old copy.
    engine.hooks.onInvalidate?.(type, full)
    if (failure !== undefined) engine.storeFailed(failure, this.#call, type, list[0])
    engine.emit(type, { keys: list })
    return n
  }

  /**
   * Invalidate every entry carrying one of `tags`: O(1) per tag (a timestamp under
   * `<prefix>:tag:{tag}` compared with each entry's createdAt on read), no SCAN. The next read
   * of such an entry loads anew; the old value stays only as a fallback if the loader fails.
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
    const engine = this.#engine
    const tagKeys = list.map((t) => this.#keys.tag(t))
    const now = Date.now()
    try {
      // Tag times never expire: an older entry must not become valid again.
      await engine.guard.call('SET tags', undefined, () => engine.store.setTagTimes(tagKeys, now, 0))
    } catch (err) {
      engine.storeFailed(err, this.#call, 'invalidateTags')
    }
    this.#co.tagsInvalidated(tagKeys, now)
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
    return this.#deleteMatching('pattern', this.#keys.scanPattern(pattern))
  }

  /** Remove every key of this namespace (entries, locks, tag times) on every primary. */
  async clear(): Promise<number> {
    this.#open()
    return this.#deleteMatching('clear', `${escapeGlob(this.#keys.base)}*`)
  }

  async #deleteMatching(type: 'clear' | 'pattern', full: string): Promise<number> {
    const engine = this.#engine
    let n = 0
    try {
      // A scan of a large keyspace outlasts redisTimeout by design: not bounded by the guard's deadline.
      n = await engine.store.deleteMatching(full, 500)
    } catch (err) {
      engine.storeFailed(err, this.#call, type)
    }
    this.#co.patternInvalidated(type, full)
    return n
  }

  /** Fresh values for many keys: L1 first, then one round trip per node. Missing → undefined. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    const list = this.#keyList(keys)
    const entries = await this.#readMany(list)
    const now = Date.now()
    return entries.map((e) => (e !== undefined && now < e.freshUntil ? (e.value as T) : undefined))
  }

  /**
   * getOrSet for many keys: hits come from L1/L2 in one round trip per node; the misses this
   * process wins the lock for are loaded with ONE `batchLoader` call; misses another process
   * is loading are awaited like getOrSet waiters. `batchLoader` returns values aligned with
   * the keys it was given (undefined = do not cache).
   */
  async getOrSetMany<T>(
    keys: readonly string[],
    batchLoader: (keys: string[]) => Promise<ReadonlyArray<T | undefined>> | ReadonlyArray<T | undefined>,
    options?: CallOptions,
  ): Promise<Array<T | undefined>> {
    const list = this.#keyList(keys)
    if (typeof batchLoader !== 'function')
      throw new InvalidKeyError('getOrSetMany needs a batch loader function.', '')
    const o = options === undefined ? this.#call : this.#resolve(options)
    const engine = this.#engine
    const entries = await this.#readMany(list)
    const now = Date.now()
    const out: Array<T | undefined> = new Array<T | undefined>(list.length).fill(undefined)
    const misses: number[] = []
    entries.forEach((e, i) => {
      if (e !== undefined && now < e.freshUntil) out[i] = e.value as T
      else misses.push(i)
    })
    if (misses.length === 0) return out
    const tokens = new Map<number, string>()
    await Promise.all(
      misses.map(async (i) => {
        const k = this.#keys.entry(list[i] as string)
        const token = newToken()
        try {
          if (
            await engine.guard.call(
              'SET NX',
              list[i],
              () => engine.lock.acquire(`${k}:lock`, token, o.lockTtl),
              `${k}:lock`,
            )
          ) {
            tokens.set(i, token)
          }
        } catch (err) {
          engine.storeFailed(err, o, 'lock', list[i])
          tokens.set(i, '')
        }
      }),
    )
    const mine = misses.filter((i) => tokens.has(i))
    if (mine.length > 0) {
      const started = Date.now()
      const values = await batchLoader(mine.map((i) => list[i] as string))
      const loadMs = Date.now() - started
      if (!Array.isArray(values) || values.length !== mine.length) {
        throw new InvalidKeyError(
          `getOrSetMany's batch loader must return ${mine.length} values, aligned with its keys.`,
          '',
        )
      }
      await Promise.all(
        mine.map(async (i, j) => {
          const key = list[i] as string
          const value = values[j] as T | undefined
          out[i] = value
          await engine.storeLoaded(this.#keys.entry(key), key, value, o, loadMs, tokens.get(i) ?? '')
        }),
      )
    }
    const theirs = misses.filter((i) => !tokens.has(i))
    await Promise.all(
      theirs.map(async (i) => {
        const key = list[i] as string
        out[i] = await engine.load(
          this.#keys.entry(key),
          key,
          async () => (await batchLoader([key]))[0] as T,
          o,
          entries[i],
        )
      }),
    )
    return out
  }

  async #readMany(list: readonly string[]): Promise<Array<Entry | undefined>> {
    const engine = this.#engine
    const out: Array<Entry | undefined> = new Array<Entry | undefined>(list.length).fill(undefined)
    const need: number[] = []
    list.forEach((key, i) => {
      const item = this.#l1Item(key)
      if (item !== undefined) out[i] = item as unknown as Entry
      else need.push(i)
    })
    if (need.length === 0) return out
    const full = need.map((i) => this.#keys.entry(list[i] as string))
    let raw: Array<Buffer | null> = []
    try {
      raw = await engine.guard.call('MGET', list[0], () => engine.store.getMany(full))
    } catch (err) {
      engine.storeFailed(err, this.#call, 'getMany', list[0])
      return out
    }
    need.forEach((i, j) => {
      const bytes = raw[j]
      if (bytes === null || bytes === undefined) return
      const key = list[i] as string
      try {
        const e = decodeEntry(key, bytes)
        out[i] = e
        this.#co.onFill(full[j] as string, e)
      } catch (err) {
        engine.reportError(err as CacheError, 'decode', key)
      }
    })
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
    await stopTopology(engine)
    await engine.coherence?.close()
    await engine.lock.close?.()
    await engine.store.close()
  }

  /** A fresh, usable L1 item (tag-checked), or undefined. */
  #l1Item(key: string) {
    const co = this.#co
    if (co.l1 === undefined || !co.l1Usable) return undefined
    const item = co.l1.get(this.#root ? key : this.#keys.entry(key), this.#root)
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
    resolved.lockStrategy === 'redlock' ? new RedlockLock(options?.lock?.clients ?? []) : undefined
  let store: Store
  let guard: Guard
  if (options?.redis === undefined) {
    store = new MemoryStore(resolved.memoryMaxEntries)
    guard = new Guard(0, 0, 0)
  } else {
    const { client, owned } = connectRedis(options.redis)
    store = new RedisStore(client, owned)
    // On a cluster, one circuit per primary: the node serving the routed key's slot.
    // ioredis keeps `slots[slot] = [primary, ...replicas]` (read anew: refreshes may replace it).
    const partition = isCluster(client)
      ? (k: string) => {
          const slots = (client as { slots?: unknown }).slots
          return Array.isArray(slots) ? String((slots[keySlot(k)] as string[] | undefined)?.[0] ?? '') : ''
        }
      : undefined
    guard = new Guard(resolved.redisTimeout, resolved.breakerThreshold, resolved.breakerCooldown, partition)
  }
  const engine = new Engine(store, guard, resolved)
  if (redlock !== undefined) engine.lock = redlock
  const l1 =
    resolved.l1 === false
      ? undefined
      : new L1Cache(resolved.l1.max, resolved.l1.maxBytes, resolved.l1.ttl, resolved.prefix)
  const coherence = new Coherence(engine, l1, store instanceof RedisStore ? store.client : undefined)
  engine.coherence = coherence
  engine.hooks = coherence
  const topology = store instanceof RedisStore ? startTopology(engine, store.client) : undefined
  const writeGuard = topology?.guard
  if (writeGuard !== undefined) engine.hooks.beforeWrite = (k, userKey) => writeGuard.check(k, userKey)
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
