import { EventEmitter } from 'node:events'
import { Coherence } from './bus/coherence'
import { toMs } from './duration'
import { classify, type Freshness } from './entry/classify'
import { decodeEntry, type Entry, encodeEntry } from './entry/envelope'
import {
  type CacheError,
  InvalidOptionError,
  isCacheError,
  LoaderTimeoutError,
  LockTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from './errors'
import { Epochs } from './fence'
import type { L1Cache } from './l1/l1-cache'
import { Lease, type LeaseHost, LeaseKeeper } from './lock/lease'
import type { LockProvider } from './lock/lock-provider'
import { ErrorLog } from './logger'
import type { ResolvedCacheOptions, ResolvedCallOptions } from './options'
import { ReadBatcher } from './read-batch'
import type { Guard } from './store/guard'
import type { RedisClient } from './store/scripts'
import type { Store } from './store/store'
import type { CacheEventName, CacheEvents, Loader, LoaderContext, ValueSource } from './types'

/** Per-key notification that an entry was written (the bus wakes lock waiters through it). */
export interface Notifier {
  /** Resolves on a write notification for `key` or after `ms`, whichever first. */
  wait(key: string, ms: number): Promise<void>
  notify(key: string): void
}

/** In-process notifier; the Redis bus feeds it with other processes' writes. */
export class LocalNotifier implements Notifier {
  #waiters = new Map<string, Set<() => void>>()
  wait(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key)
      if (waiters === undefined) {
        waiters = new Set()
        this.#waiters.set(key, waiters)
      }
      const set = waiters
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key)
        resolve()
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }
  notify(key: string): void {
    const set = this.#waiters.get(key)
    if (set !== undefined) for (const done of [...set]) done()
  }
  wakeAll(): void {
    for (const set of [...this.#waiters.values()]) for (const done of [...set]) done()
  }
  /** Keys with a waiter (bounded by the callers in flight: each waiter leaves within lock.wait). */
  get size(): number {
    return this.#waiters.size
  }
}

/** A value and where it came from (getOrSetResult). */
export interface Outcome<T> {
  value: T
  source: ValueSource
}

class Ctx<T> implements LoaderContext<T> {
  ttl = -1
  tags: readonly string[] | undefined
  skipped = false
  /** Made on first use: an AbortController per load showed in the miss profile. */
  #ac: AbortController | undefined
  #reason: unknown
  #aborted = false
  constructor(
    readonly key: string,
    readonly stale: T | undefined,
    readonly background: boolean,
  ) {}
  get signal(): AbortSignal {
    if (this.#ac === undefined) {
      this.#ac = new AbortController()
      if (this.#aborted) this.#ac.abort(this.#reason)
    }
    return this.#ac.signal
  }
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#ac?.abort(reason)
  }
  setTtl(ttl: string | number): void {
    this.ttl = toMs(ttl, 'ctx.setTtl')
  }
  setTags(tags: readonly string[]): void {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
      throw new InvalidOptionError('ctx.setTags', 'an array of non-empty strings', tags)
    }
    this.tags = [...tags]
  }
  skip(): void {
    this.skipped = true
  }
}

/**
 * One load of one key in this process: the callers coalesced on it share its promise. `since`
 * is the invalidation epoch it began in; callers arriving after an invalidation of the key do
 * not join it (the fenced value still answers those already waiting).
 */
interface Load<T> {
  readonly since: number
  readonly promise: Promise<Outcome<T>>
}

const POLL_START = 20
const POLL_MAX = 400
/**
 * Fallback poll while the bus is subscribed (other processes' writes notify waiters): a lost
 * notification costs at most this much latency, and a crashed holder's expired lease is
 * noticed within it.
 */
const POLL_LIVE = 1_000
/** The longest a load waits for the clock to pass the tag invalidation it follows (ms). */
const MAX_TAG_CLOCK_WAIT = 10
/** close(): the longest it waits for background refreshes before aborting them. */
const CLOSE_REFRESH_WAIT = 2_000
/** close(): the longest any one connection's QUIT may take before it is cut. */
const CLOSE_QUIT_WAIT = 1_000

export interface EngineParts {
  store: Store
  guard: Guard
  options: ResolvedCacheOptions
  /** redlock: exclusion from a quorum of independent primaries. */
  quorum?: LockProvider | undefined
  l1?: L1Cache | undefined
  /** The client the bus publishes with (Redis L2 only). */
  publisher?: RedisClient | undefined
}

/**
 * The protocol's one owner: reads, loads under the fleet-wide lease, writes, invalidations and
 * close, for a cache and all its namespaces. Keys reaching the engine are full entry keys;
 * `userKey` is what events report. docs/consistency.md states what it guarantees.
 */
export class Engine implements LeaseHost {
  readonly store: Store
  readonly guard: Guard
  readonly quorum: LockProvider | undefined
  readonly options: ResolvedCacheOptions
  readonly emitter = new EventEmitter({ captureRejections: false })
  readonly notifier = new LocalNotifier()
  readonly epochs = new Epochs()
  readonly coherence: Coherence
  /** Loads in flight in this process, one per key (bounded by the keys being loaded). */
  readonly inflight = new Map<string, Load<unknown>>()
  /** Background refreshes and soft-timed-out loads still running. */
  readonly background = new Set<Promise<unknown>>()
  /** Leases this process holds (close() gives them back). */
  readonly leases = new Set<Lease>()
  readonly keeper = new LeaseKeeper()
  #beforeWrite: ((entryKey: string, userKey: string) => CacheError | undefined) | undefined
  #closing: Promise<void> | undefined
  closed = false
  readonly #aborts = new Set<Ctx<unknown>>()
  readonly #listening = new Set<string>()
  /** Someone listens to 'hit' (a field, not a Set lookup, on the L1 hit path). */
  wantsHit = false
  #log: ErrorLog | undefined

  constructor(parts: EngineParts) {
    this.store = parts.store
    this.guard = parts.guard
    this.options = parts.options
    this.quorum = parts.quorum
    this.emitter.setMaxListeners(0)
    this.emitter.on('newListener', (e: string) => {
      this.#listening.add(e)
      this.wantsHit = this.#listening.has('hit')
    })
    this.emitter.on('removeListener', (e: string) => {
      if (this.emitter.listenerCount(e) === 0) this.#listening.delete(e)
      this.wantsHit = this.#listening.has('hit')
    })
    this.coherence = new Coherence(this, parts.l1, parts.publisher)
    if (parts.store.kind === 'redis' && !parts.store.partitioned) {
      this.#batch = new ReadBatcher(parts.store, parts.guard, (userKey, bytes) => this.decode(userKey, bytes))
    }
  }

  /** Single-server Redis: entry reads of one tick leave as one MGET (read-batch.ts). */
  readonly #batch: ReadBatcher | undefined

  /** The topology write guard: asked before every L2 write; an error skips the write. */
  useWriteGuard(check: (entryKey: string, userKey: string) => CacheError | undefined): void {
    this.#beforeWrite = check
  }

  /** Cheap check before building an event payload on a hot path. */
  wants(event: CacheEventName): boolean {
    return this.#listening.has(event)
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    if (!this.#listening.has(event)) return
    try {
      this.emitter.emit(event, payload)
    } catch {
      // A throwing listener must not break a cache call.
    }
  }

  reportError(error: CacheError, operation: string, key?: string): void {
    this.#log ??= new ErrorLog(this.options.logger, this.options.redisAddress)
    this.#log.report(error, operation, key, this.#listening.has('error'))
    this.emit('error', { error, key, operation })
  }

  released(k: string): void {
    // Waiters in this process need not wait for their poll to learn the lease is free (a skipped
    // or failed load writes nothing, so no write notification comes).
    this.notifier.notify(k)
  }

  lost(userKey: string): void {
    this.emit('lock:lost', { key: userKey })
  }

  /** An L2 failure: emit it, then fail open (return) or throw E_STORE_UNAVAILABLE. */
  storeFailed(err: unknown, failOpen: boolean, operation: string, key?: string): void {
    const error = isCacheError(err) ? err : new StoreUnavailableError(String(err), { key, cause: err })
    this.reportError(error, operation, key)
    if (!failOpen) {
      throw error.code === 'E_STORE_UNAVAILABLE'
        ? error
        : new StoreUnavailableError(`Redis unavailable during ${operation}: ${error.message}`, {
            key,
            cause: error,
          })
    }
  }

  // ---------------------------------------------------------------- reads

  /** Read and decode one entry. Garbage bytes are a miss plus an 'error' event, never a throw. */
  read(k: string, userKey: string): Promise<Entry | undefined> {
    if (this.#batch !== undefined) return this.#batch.get(k, userKey)
    return this.guard
      .call('GET', userKey, () => this.store.get(k), k)
      .then((bytes) => (bytes === null ? undefined : this.decode(userKey, bytes)))
  }

  /**
   * read(), shared by the getOrSet calls for one key that begin in the same synchronous run
   * (a burst of callers, e.g. a stampede, sends one GET instead of one each). Sharing ends at the
   * next microtask checkpoint: a caller can only have seen an invalidation complete through I/O,
   * which comes after that, so no caller joins a GET sent before an invalidation it observed;
   * in-process invalidations are fenced by the epoch as well.
   */
  readShared(k: string, userKey: string, since: number): Promise<Entry | undefined> {
    // The batcher shares a read between callers of one key until it is sent (later than this).
    if (this.#batch !== undefined) return this.#batch.get(k, userKey)
    const r = this.#reads.get(k)
    if (r !== undefined && this.epochs.valid(k, r.since)) return r.promise
    const promise = this.read(k, userKey)
    this.#reads.set(k, { since, promise })
    if (!this.#readsClearing) {
      this.#readsClearing = true
      queueMicrotask(this.#clearReads)
    }
    return promise
  }

  readonly #reads = new Map<string, { since: number; promise: Promise<Entry | undefined> }>()
  #readsClearing = false
  readonly #clearReads = () => {
    this.#reads.clear()
    this.#readsClearing = false
  }

  decode(userKey: string, bytes: Buffer): Entry | undefined {
    try {
      return decodeEntry(userKey, bytes)
    } catch (err) {
      this.reportError(err as CacheError, 'decode', userKey)
      return undefined
    }
  }

  /** read() that reports instead of throwing (lock waiters, re-reads). */
  async #tryRead(k: string, userKey: string): Promise<Entry | undefined> {
    try {
      return await this.read(k, userKey)
    } catch (err) {
      this.reportError(err as CacheError, 'read', userKey)
      return undefined
    }
  }

  /** Many entries: one MGET on a single server, one routed GET per key on a cluster. */
  async readMany(
    full: readonly string[],
    userKeys: readonly string[],
    failOpen: boolean,
  ): Promise<Array<Entry | undefined>> {
    const out: Array<Entry | undefined> = new Array<Entry | undefined>(full.length).fill(undefined)
    if (full.length === 0) return out
    if (!this.store.partitioned) {
      let raw: Array<Buffer | null>
      try {
        raw = await this.guard.call('MGET', userKeys[0], () => this.store.getMany(full), full[0])
      } catch (err) {
        this.storeFailed(err, failOpen, 'getMany', userKeys[0])
        return out
      }
      raw.forEach((b, i) => {
        if (b !== null && b !== undefined) out[i] = this.decode(userKeys[i] as string, b)
      })
      return out
    }
    // Each key through its own node's circuit: one dead shard leaves the others readable.
    let failure: unknown
    await Promise.all(
      full.map(async (k, i) => {
        try {
          out[i] = await this.read(k, userKeys[i] as string)
        } catch (err) {
          failure ??= err
        }
      }),
    )
    if (failure !== undefined) this.storeFailed(failure, failOpen, 'getMany', userKeys[0])
    return out
  }

  /** Freshness of an entry read from L2, tags included (the only place tags are checked for L2). */
  async classify(entry: Entry, k: string, failOpen: boolean): Promise<Freshness> {
    const now = Date.now()
    if (entry.tags.length === 0 || now >= entry.staleUntil) return classify(entry, now)
    if (await this.coherence.tagInvalidated(entry, k, failOpen, false)) entry.invalidated = true
    return classify(entry, now, entry.invalidated === true)
  }

  /** Fill L1 with an entry read or written at epoch `since`, unless invalidated since. */
  fill(k: string, entry: Entry, since: number, userKey?: string): void {
    if (this.epochs.valid(k, since)) this.coherence.onFill(k, entry, userKey)
  }

  /** Tag times, one routed GET per tag on a cluster (a dead shard fails only its tags). */
  readTagTimes(tagKeys: readonly string[]): Promise<number[]> {
    if (!this.store.partitioned) {
      return this.guard.call('GET tags', undefined, () => this.store.getTagTimes(tagKeys), tagKeys[0])
    }
    return Promise.all(
      tagKeys.map((tk) =>
        this.guard.call('GET tag', undefined, () => this.store.getTagTimes([tk]), tk).then((r) => r[0] ?? 0),
      ),
    )
  }

  // ---------------------------------------------------------------- loads

  /**
   * A miss (or an entry past freshness without revalidation): load under the fleet-wide
   * lease. Callers in this process coalesce on one load unless the key was invalidated after
   * it began. `since` is the epoch the caller's read began in.
   */
  load<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    stale: Entry | undefined,
    since: number,
  ): Promise<Outcome<T>> {
    const running = this.inflight.get(k) as Load<T> | undefined
    // Join a load that no invalidation preceded, or one that began no earlier than this
    // caller's read (whatever this caller saw complete, that load began after it too).
    if (running !== undefined && (running.since >= since || this.epochs.valid(k, running.since))) {
      return running.promise.then(joined)
    }
    return this.#start(k, since, () => this.#loadFleet(k, userKey, loader, o, stale, since))
  }

  #start<T>(k: string, since: number, run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
    const promise = run().finally(() => {
      if (this.inflight.get(k) === load) this.inflight.delete(k)
    })
    const load: Load<T> = { since, promise }
    this.inflight.set(k, load as Load<unknown>)
    return promise
  }

  /** Stale-while-revalidate / early refresh: at most one refresh per key, fleet-wide, never waiting. */
  refreshInBackground<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    stale: Entry,
  ): void {
    if (this.closed) return
    const running = this.inflight.get(k)
    if (running !== undefined && this.epochs.valid(k, running.since)) return
    const since = this.epochs.now()
    const p = this.#start(k, since, async (): Promise<Outcome<T>> => {
      const lease = new Lease(this, k, userKey)
      let r: Awaited<ReturnType<Lease['take']>>
      try {
        r = await lease.take(o.lockTtl, stale.createdAt)
      } catch (err) {
        this.reportError(err as CacheError, 'lock', userKey)
        return { value: stale.value as T, source: 'stale' }
      }
      if (Buffer.isBuffer(r)) {
        // Another process refreshed it between our read and now.
        const e = this.decode(userKey, r)
        if (e !== undefined) this.fill(k, e, since, userKey)
        return { value: (e ?? stale).value as T, source: e === undefined ? 'stale' : 'peer' }
      }
      if (!r) return { value: stale.value as T, source: 'stale' }
      this.emit('lock:acquired', { key: userKey })
      return this.#runAsHolder(k, userKey, loader, o, stale, lease, true, since)
    })
    this.track(p)
  }

  track(p: Promise<unknown>): void {
    const q = p.catch(() => {})
    this.background.add(q)
    q.finally(() => this.background.delete(q))
  }

  async #loadFleet<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    stale: Entry | undefined,
    since: number,
  ): Promise<Outcome<T>> {
    const got = await this.#contend(k, userKey, o, stale, since)
    if (got === 'unreachable') return this.#runAsHolder(k, userKey, loader, o, stale, undefined, false, since)
    if (got instanceof Lease) {
      if (this.#listening.has('lock:acquired')) this.emit('lock:acquired', { key: userKey })
      return this.#runAsHolder(k, userKey, loader, o, stale, got, false, since)
    }
    if (got !== undefined) return got as Outcome<T>
    // Someone else is loading. With a stale value at hand, never wait (a tag-invalidated one is
    // a fallback for a failing loader only: wait for the new value).
    if (servable(stale)) {
      this.emit('stale', { key: userKey, tier: 'l2', reason: 'lock' })
      return { value: stale.value as T, source: 'stale' }
    }
    return this.#wait(k, userKey, loader, o, since)
  }

  /**
   * One attempt at the lease: our lease, a newer fresh entry someone else wrote (as an
   * outcome), undefined when another holder has it, or 'unreachable' (reported; throws with
   * failOpen false).
   */
  async #contend(
    k: string,
    userKey: string,
    o: ResolvedCallOptions,
    seen: Entry | undefined,
    since: number,
  ): Promise<Lease | Outcome<unknown> | 'unreachable' | undefined> {
    let seenCreatedAt = seen?.createdAt ?? 0
    for (let attempt = 0; attempt < 2; attempt++) {
      const lease = new Lease(this, k, userKey)
      let r: Awaited<ReturnType<Lease['take']>>
      try {
        r = await lease.take(o.lockTtl, seenCreatedAt)
      } catch (err) {
        this.storeFailed(err, o.failOpen, 'lock', userKey)
        return 'unreachable'
      }
      if (r === true) return lease
      if (r === false) return undefined
      const e = this.decode(userKey, r)
      if (e === undefined) {
        // Garbage under the key (reported): take the lease over it; the write replaces it.
        seenCreatedAt = Number.MAX_VALUE
        continue
      }
      // Newer and fresh by its deadline; a tag may still have invalidated it.
      if ((await this.classify(e, k, o.failOpen)) === 'fresh') {
        this.fill(k, e, since, userKey)
        return { value: e.value, source: 'peer' }
      }
      seenCreatedAt = e.createdAt
    }
    return undefined
  }

  async #wait<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    since: number,
  ): Promise<Outcome<T>> {
    const started = Date.now()
    const deadline = started + o.lockWait
    let delay = POLL_START
    for (;;) {
      const left = deadline - Date.now()
      if (left <= 0) break
      // Woken by the holder's write notification; the poll is the fallback (sparse while the
      // bus delivers notifications, a 20 ms -> 400 ms backoff when nothing does).
      const notified = this.coherence.bus?.state === 'ready'
      await this.notifier.wait(k, Math.min(notified ? POLL_LIVE : delay, left))
      delay = Math.min(POLL_MAX, delay * 2)
      if (this.closed) break
      const e = await this.#tryRead(k, userKey)
      const state = e === undefined ? 'gone' : await this.classify(e, k, o.failOpen)
      if (e !== undefined && state === 'fresh') {
        this.emit('lock:wait', { key: userKey, duration: Date.now() - started, outcome: 'value' })
        this.fill(k, e, since, userKey)
        return { value: e.value as T, source: 'peer' }
      }
      // The holder may have died (its lease expires after lock.ttl) or been fenced by an
      // invalidation: one waiter takes over.
      const got = await this.#contend(k, userKey, o, e, since)
      if (got === 'unreachable')
        return this.#runAsHolder(k, userKey, loader, o, undefined, undefined, false, since)
      if (got instanceof Lease) {
        this.emit('lock:wait', { key: userKey, duration: Date.now() - started, outcome: 'takeover' })
        this.emit('lock:acquired', { key: userKey })
        return this.#runAsHolder(k, userKey, loader, o, state === 'stale' ? e : undefined, got, false, since)
      }
      if (got !== undefined) {
        this.emit('lock:wait', { key: userKey, duration: Date.now() - started, outcome: 'value' })
        return got as Outcome<T>
      }
      if (state === 'stale' && servable(e)) {
        this.emit('stale', { key: userKey, tier: 'l2', reason: 'lock' })
        return { value: e.value as T, source: 'stale' }
      }
    }
    const waited = Date.now() - started
    this.emit('lock:wait', { key: userKey, duration: waited, outcome: 'timeout' })
    this.emit('lock:timeout', { key: userKey, duration: waited })
    if (o.lockOnTimeout === 'throw') throw new LockTimeoutError(userKey, o.lockWait)
    // Without a lease the value answers this caller only: it cannot be fenced, so it is not stored.
    return this.#runAsHolder(k, userKey, loader, o, undefined, undefined, false, since)
  }

  /**
   * Run the loader (as the lease holder, or without a lease when Redis could not be asked),
   * store its result with one fenced write, fall back to `stale` on failure; soft timeout.
   */
  #runAsHolder<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    stale: Entry | undefined,
    lease: Lease | undefined,
    background: boolean,
    since: number,
  ): Promise<Outcome<T>> {
    const work = this.#runAndStore(k, userKey, loader, o, stale, lease, background, since)
    if (o.softTimeout <= 0 || !servable(stale) || background) return work
    // Soft timeout: answer with the stale value; the loader keeps running and its result lands later.
    return new Promise<Outcome<T>>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        this.emit('stale', { key: userKey, tier: 'l2', reason: 'timeout' })
        resolve({ value: stale.value as T, source: 'stale' })
      }, o.softTimeout)
      work.then(
        (v) => {
          clearTimeout(timer)
          if (!settled) resolve(v)
        },
        (err) => {
          clearTimeout(timer)
          if (!settled) reject(err)
        },
      )
      this.track(work)
    })
  }

  async #runAndStore<T>(
    k: string,
    userKey: string,
    loader: Loader<T>,
    o: ResolvedCallOptions,
    stale: Entry | undefined,
    lease: Lease | undefined,
    background: boolean,
    since: number,
  ): Promise<Outcome<T>> {
    const ctx = new Ctx<T>(userKey, stale?.value as T | undefined, background)
    // A tag time at or after an entry's createdAt invalidates it (ms clocks cannot order within
    // a millisecond), so a load that begins in the millisecond of the tag invalidation it follows
    // would store an entry born invalidated, and the next reader would load again. Begin it in
    // the next millisecond (only when that is close: a far-ahead clock of another host is not
    // waited for).
    const tagTime = stale?.invalidatedAt
    if (tagTime !== undefined) {
      const wait = tagTime + 1 - Date.now()
      if (wait > 0 && wait <= MAX_TAG_CLOCK_WAIT) await new Promise((r) => setTimeout(r, wait))
    }
    // The entry's createdAt is when its load began: a tag invalidated after this moment is newer.
    const startedAt = Date.now()
    lease?.keepAlive(o.lockTtl)
    let value: T
    this.#aborts.add(ctx as Ctx<unknown>)
    try {
      value = await this.#callLoader(loader, ctx, o, userKey)
    } catch (error) {
      this.#aborts.delete(ctx as Ctx<unknown>)
      lease?.stop()
      this.emit('load:error', { key: userKey, duration: Date.now() - startedAt, error })
      if (stale !== undefined && Date.now() < stale.staleUntil && this.epochs.valid(k, since)) {
        // Stale-if-error, and hold the lease as a backoff for failSafeBackoff so a failing loader
        // is not hammered (the entry stays stale: never a fresh answer). Awaited so the next read
        // sees the backoff.
        if (lease !== undefined) await this.#failed(lease, stale, o)
        this.emit('stale', { key: userKey, tier: 'l2', reason: 'error' })
        return { value: stale.value as T, source: 'stale' }
      }
      await lease?.release()
      throw error
    }
    this.#aborts.delete(ctx as Ctx<unknown>)
    lease?.stop()
    const loadMs = Date.now() - startedAt
    if (this.#listening.has('load')) this.emit('load', { key: userKey, duration: loadMs, background })
    if (ctx.skipped || value === undefined || this.closed || lease === undefined) {
      void lease?.release()
      return { value, source: 'loader' }
    }
    await this.#storeLoaded(lease, value, o, startedAt, loadMs, ctx, since)
    return { value, source: 'loader' }
  }

  async #failed(lease: Lease, stale: Entry, o: ResolvedCallOptions): Promise<void> {
    // A tag-invalidated entry is a fallback only: no backoff, every read reloads.
    const until = stale.invalidated === true ? 0 : Math.min(stale.staleUntil, Date.now() + o.failSafeBackoff)
    try {
      await this.guard.call(
        'EVALSHA',
        lease.userKey,
        () => this.store.failLoaded(lease.key, lease.leaseKey, lease.token, stale.createdAt, until),
        lease.key,
      )
      lease.consumed()
    } catch (err) {
      this.reportError(err as CacheError, 'failsafe', lease.userKey)
      await lease.release()
    }
  }

  /**
   * Store a loaded value with the lease's one fenced write (which also gives the lease back);
   * then notify waiters, fill L1 and publish. A refused write (the lease was revoked by an
   * invalidation) stores nothing anywhere.
   */
  async #storeLoaded(
    lease: Lease,
    value: unknown,
    o: ResolvedCallOptions,
    createdAt: number,
    loadMs: number,
    ctx: { ttl: number; tags: readonly string[] | undefined },
    since: number,
  ): Promise<void> {
    const { key: k, userKey } = lease
    const { entry, px } = this.makeEntry(value, o, loadMs, ctx.ttl, ctx.tags, createdAt)
    const bytes = this.#encodeChecked(k, userKey, entry)
    // The lease fences the L2 write against key invalidations; a tag invalidated since the load
    // began is newer than its createdAt, so the entry reads as invalidated anyway.
    if (bytes === undefined) {
      await lease.release()
      return
    }
    let result: 'written' | 'fenced'
    try {
      result = await this.guard.call(
        'EVALSHA',
        userKey,
        () => this.store.writeLoaded(k, lease.leaseKey, lease.token, bytes, px),
        k,
      )
      lease.consumed()
    } catch (err) {
      // Not written (or not known to be): free the lease so a waiter can take over now.
      await lease.release()
      this.storeFailed(err, o.failOpen, 'write', userKey)
      return
    }
    if (this.#listening.has('write'))
      this.emit('write', { key: userKey, bytes: bytes.length, fenced: result === 'fenced' })
    if (result === 'written') {
      this.notifier.notify(k)
      this.coherence.onWrite(k, entry, this.epochs.valid(k, since), userKey)
    }
  }

  /** Build the envelope for a value; the jitter factor spreads fresh and stale deadlines alike. */
  makeEntry(
    value: unknown,
    o: ResolvedCallOptions,
    loadMs: number,
    ttlOverride = -1,
    tags?: readonly string[],
    createdAt = Date.now(),
  ): { entry: Entry; px: number } {
    const now = Date.now()
    const f = o.jitter > 0 ? 1 + o.jitter * (2 * Math.random() - 1) : 1
    const base = ttlOverride >= 0 ? ttlOverride : value === null && o.nullTtl >= 0 ? o.nullTtl : o.ttl
    const fresh = Math.round(base * f)
    const stale = Math.round(o.staleTtl * f)
    const entry: Entry = {
      value,
      createdAt,
      freshUntil: now + fresh,
      staleUntil: now + fresh + stale,
      loadMs,
      tags: tags ?? o.tags,
    }
    return { entry, px: Math.max(1, fresh + stale) }
  }

  /** Encode and size-check; the coded error instead of bytes when it must not be stored. */
  tryEncode(userKey: string, entry: Entry): Buffer | CacheError {
    let bytes: Buffer
    try {
      bytes = encodeEntry(userKey, entry)
    } catch (err) {
      return err as CacheError
    }
    if (bytes.length > this.options.maxValueBytes) {
      return new ValueTooLargeError(userKey, bytes.length, this.options.maxValueBytes)
    }
    entry.size = bytes.length
    return bytes
  }

  /** tryEncode + the write guard, reporting a refusal as 'write:skipped' + 'error'. */
  #encodeChecked(k: string, userKey: string, entry: Entry): Buffer | undefined {
    const r = this.tryEncode(userKey, entry)
    if (!Buffer.isBuffer(r)) {
      this.skipped(userKey, r.code === 'E_VALUE_TOO_LARGE' ? 'too-large' : 'serialize', r)
      return undefined
    }
    const refused = this.#beforeWrite?.(k, userKey)
    if (refused !== undefined) {
      this.skipped(userKey, 'write-guard', refused)
      return undefined
    }
    return r
  }

  skipped(key: string, reason: string, error: CacheError): void {
    this.emit('write:skipped', { key, reason, error })
    this.reportError(error, 'write', key)
  }

  #callLoader<T>(loader: Loader<T>, ctx: Ctx<T>, o: ResolvedCallOptions, userKey: string): Promise<T> {
    let p: Promise<T>
    try {
      p = Promise.resolve(loader(ctx))
    } catch (err) {
      return Promise.reject(err)
    }
    if (o.hardTimeout <= 0) return p
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new LoaderTimeoutError(userKey, o.hardTimeout)
        ctx.abort(err)
        reject(err)
      }, o.hardTimeout)
      p.then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (e) => {
          clearTimeout(timer)
          reject(e)
        },
      )
    })
  }

  // ---------------------------------------------------------------- batch loads

  /**
   * getOrSetMany's misses: leases taken per key, ONE batch loader call for the keys this
   * process won (extended while it runs, released whatever happens), stale fallback per key on
   * failure; keys another process is loading are awaited like getOrSet waiters.
   */
  async loadMany<T>(
    keys: ReadonlyArray<{ k: string; userKey: string; stale: Entry | undefined }>,
    batchLoader: (keys: string[]) => Promise<ReadonlyArray<T | undefined>> | ReadonlyArray<T | undefined>,
    o: ResolvedCallOptions,
    since: number,
    wrongLength: (expected: number) => CacheError,
  ): Promise<Array<T | undefined>> {
    const out: Array<T | undefined> = new Array<T | undefined>(keys.length).fill(undefined)
    const got = await Promise.all(keys.map((x) => this.#contend(x.k, x.userKey, o, x.stale, since)))
    const mine: number[] = []
    const theirs: number[] = []
    got.forEach((g, i) => {
      if (g instanceof Lease || g === 'unreachable') mine.push(i)
      else if (g !== undefined) out[i] = g.value as T
      else theirs.push(i)
    })
    const waiting = Promise.all(
      theirs.map(async (i) => {
        const x = keys[i] as (typeof keys)[number]
        const one: Loader<T> = async () => (await batchLoader([x.userKey]))[0] as T
        out[i] = (await this.load(x.k, x.userKey, one, o, x.stale, since)).value
      }),
    )
    if (mine.length > 0) {
      const leases = mine.map((i) => (got[i] instanceof Lease ? (got[i] as Lease) : undefined))
      for (const l of leases) l?.keepAlive(o.lockTtl)
      const startedAt = Date.now()
      const ctx = new Ctx<ReadonlyArray<T | undefined>>('', undefined, false)
      try {
        const values = await this.#callLoader(
          async () => {
            const v = await batchLoader(mine.map((i) => (keys[i] as (typeof keys)[number]).userKey))
            if (!Array.isArray(v) || v.length !== mine.length) throw wrongLength(mine.length)
            return v as ReadonlyArray<T | undefined>
          },
          ctx,
          o,
          'getOrSetMany',
        )
        const loadMs = Date.now() - startedAt
        await Promise.all(
          mine.map(async (i, j) => {
            const value = values[j] as T | undefined
            out[i] = value
            const lease = leases[j]
            if (lease === undefined) return
            lease.stop()
            if (value === undefined || this.closed) return lease.release()
            return this.#storeLoaded(lease, value, o, startedAt, loadMs, { ttl: -1, tags: undefined }, since)
          }),
        )
      } catch (error) {
        // Stale-if-error per key; no stale value: the batch's error.
        let rethrow = false
        await Promise.all(
          mine.map(async (i, j) => {
            const x = keys[i] as (typeof keys)[number]
            const lease = leases[j]
            lease?.stop()
            if (x.stale !== undefined && Date.now() < x.stale.staleUntil) {
              out[i] = x.stale.value as T
              this.emit('stale', { key: x.userKey, tier: 'l2', reason: 'error' })
              if (lease !== undefined) await this.#failed(lease, x.stale, o)
            } else {
              rethrow = true
              await lease?.release()
            }
          }),
        )
        if (rethrow) {
          await waiting.catch(() => {})
          throw error
        }
      } finally {
        for (const l of leases) if (l !== undefined && this.leases.has(l)) await l.release()
      }
    }
    await waiting
    return out
  }

  // ---------------------------------------------------------------- writes and invalidations

  /** set(): write, revoking any lease (fences loads in flight), then L1 and the bus. */
  async set(k: string, userKey: string, value: unknown, o: ResolvedCallOptions): Promise<void> {
    const { entry, px } = this.makeEntry(value, o, 0)
    const encoded = this.tryEncode(userKey, entry)
    if (!Buffer.isBuffer(encoded)) throw encoded
    const refused = this.#beforeWrite?.(k, userKey)
    if (refused !== undefined) {
      this.skipped(userKey, 'write-guard', refused)
      return
    }
    const leaseKey = this.#leaseKey(k)
    try {
      await this.guard.call('EVALSHA', userKey, () => this.store.write(k, leaseKey, encoded, px), k)
    } catch (err) {
      // Not written (or not known to be): whatever L1 holds is older than what the caller meant.
      this.epochs.invalidate([k])
      this.coherence.onInvalidate('delete', [k])
      this.storeFailed(err, o.failOpen, 'set', userKey)
      return
    }
    this.epochs.invalidate([k])
    this.emit('write', { key: userKey, bytes: encoded.length, fenced: false })
    this.notifier.notify(k)
    this.coherence.onWrite(k, entry, true, userKey)
  }

  /**
   * delete() / expire(): change Redis (revoking leases), then the in-process epochs, L1 and the
   * bus (only once Redis answered: on a cluster the PUBLISH could otherwise reach another process
   * before the change), then report a Redis failure.
   */
  async invalidate(
    type: 'delete' | 'expire',
    full: readonly string[],
    userKeys: readonly string[],
    failOpen: boolean,
  ): Promise<number> {
    let n = 0
    let failure: unknown
    const leaseKeys = full.map((k) => this.#leaseKey(k))
    const change = (keys: readonly string[], leases: readonly string[], userKey: string | undefined) =>
      this.guard.call(
        type === 'delete' ? 'UNLINK' : 'EVALSHA',
        userKey,
        () => this.store.invalidate(keys, leases, type),
        keys[0],
      )
    if (!this.store.partitioned) {
      try {
        n = await change(full, leaseKeys, userKeys[0])
      } catch (err) {
        failure = err
      }
    } else {
      const counts = await Promise.all(
        full.map((k, i) =>
          change([k], [leaseKeys[i] as string], userKeys[i]).catch((err: unknown) => {
            failure ??= err
            return 0
          }),
        ),
      )
      n = counts.reduce((a, b) => a + b, 0)
    }
    this.epochs.invalidate(full)
    this.coherence.onInvalidate(type, full)
    if (failure !== undefined) this.storeFailed(failure, failOpen, type, userKeys[0])
    this.emit(type, { keys: userKeys })
    return n
  }

  /** Tag times (never expiring: an older entry must not become valid again), then everywhere. */
  async invalidateTags(tagKeys: readonly string[], failOpen: boolean): Promise<void> {
    const now = Date.now()
    let failure: unknown
    const put = (keys: readonly string[]) =>
      this.guard.call('SET tags', undefined, () => this.store.setTagTimes(keys, now, 0), keys[0])
    if (!this.store.partitioned) await put(tagKeys).catch((err: unknown) => (failure = err))
    else await Promise.all(tagKeys.map((tk) => put([tk]).catch((err: unknown) => (failure ??= err))))
    this.epochs.invalidateAll()
    this.coherence.tagsInvalidated(tagKeys, now)
    if (failure !== undefined) this.storeFailed(failure, failOpen, 'invalidateTags')
  }

  /**
   * Pattern / clear: SCAN + UNLINK of entries and their leases, twice. A load that began before
   * the call either wrote before the second pass (its entry is present for that whole pass, so
   * SCAN returns it) or writes after the first pass (its lease was present for that whole pass,
   * so it was revoked and the write is refused).
   */
  async deleteMatching(
    type: 'clear' | 'pattern',
    glob: string,
    accept: (key: string) => boolean,
    failOpen: boolean,
  ): Promise<number> {
    let n = 0
    const isEntry = (key: string) => !key.endsWith(':lock') && !key.endsWith(':lease')
    try {
      // A scan of a large keyspace outlasts redisTimeout by design: not bounded by the guard's deadline.
      for (let pass = 0; pass < (this.store.kind === 'redis' ? 2 : 1); pass++) {
        n += await this.store.deleteMatching(glob, 500, accept, isEntry)
      }
    } catch (err) {
      this.epochs.invalidateAll()
      this.coherence.patternInvalidated(type, glob)
      this.storeFailed(err, failOpen, type)
      return n
    }
    this.epochs.invalidateAll()
    this.coherence.patternInvalidated(type, glob)
    return n
  }

  #leaseKey(k: string): string {
    return this.quorum === undefined ? `${k}:lock` : `${k}:lease`
  }

  // ---------------------------------------------------------------- close

  /**
   * Stop, bounded: wake waiters, give back every lease this process holds (so no other process
   * waits lock.ttl for a holder that is gone), wait at most CLOSE_REFRESH_WAIT for background
   * refreshes (then abort their loaders), and close connections with a deadline each.
   */
  close(stopTopology: () => Promise<void>): Promise<void> {
    this.#closing ??= this.#close(stopTopology)
    return this.#closing
  }

  async #close(stopTopology: () => Promise<void>): Promise<void> {
    this.closed = true
    this.notifier.wakeAll()
    if (!(await settledWithin([...this.background], CLOSE_REFRESH_WAIT))) {
      for (const ctx of this.#aborts) ctx.abort(new Error('cache closed'))
    }
    await settledWithin(
      [...this.leases].map((l) => l.release()),
      CLOSE_QUIT_WAIT,
    )
    await settledWithin([stopTopology()], CLOSE_QUIT_WAIT)
    await settledWithin([this.coherence.close()], CLOSE_QUIT_WAIT)
    await settledWithin([this.quorum?.close?.() ?? Promise.resolve()], CLOSE_QUIT_WAIT)
    await this.store.close(CLOSE_QUIT_WAIT)
  }
}

/** A stale entry that may be served while the key reloads (not past staleUntil, not tag-invalidated). */
function servable(e: Entry | undefined): e is Entry {
  return e !== undefined && e.invalidated !== true && Date.now() < e.staleUntil
}

function joined<T>(o: Outcome<T>): Outcome<T> {
  return o.source === 'stale' ? o : { value: o.value, source: 'joined' }
}

/** Whether all settled within `ms` (never rejects). */
function settledWithin(ps: ReadonlyArray<Promise<unknown>>, ms: number): Promise<boolean> {
  if (ps.length === 0) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    timer.unref()
    Promise.allSettled(ps).then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
