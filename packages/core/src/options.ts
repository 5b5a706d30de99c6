import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { type Duration, MAX_TTL_MS, timerMs, toMs } from './duration'
import { InvalidOptionError } from './errors'
import type { RedlockLockOptions } from './lock/redlock-lock'
import type { Logger } from './logger'
import type { IoredisInstance, NodeRedisInstance } from './store/client'

/** `{ cluster: [nodes], ...ClusterOptions }`: Herdless creates an ioredis Cluster. */
export interface ClusterConfig extends ClusterOptions {
  /** Seed nodes (`{ host, port }`); the rest of the cluster is discovered. */
  cluster: ClusterNode[]
}

/**
 * Where L2 lives. A URL (`redis://`, `rediss://`), ioredis options, a cluster config, or a
 * client you own (Herdless never closes it): ioredis/iovalkey Redis or Cluster, or a connected
 * node-redis 5 createClient()/createCluster(). Absent: the embedded
 * in-memory store (single process).
 */
export type RedisInput =
  | string
  | RedisOptions
  | ClusterConfig
  | Redis
  | Cluster
  | IoredisInstance
  | NodeRedisInstance

/** Loader timeouts (`timeouts`): a soft one that serves stale, a hard one that throws. */
export interface TimeoutOptions {
  /** Past this, return the stale value if one is at hand; the loader keeps running and its result is stored. @default false */
  soft?: Duration | false
  /** Past this, reject with E_LOADER_TIMEOUT and abort ctx.signal. @default false */
  hard?: Duration | false
}

/** Stampede lock settings (`lock`); ttl, wait and onTimeout can also be set per call. */
export interface LockOptions {
  /** How long a lock is held before it expires by itself (a crashed holder). Extended while the loader runs. @default '10s' */
  ttl?: Duration
  /** How long a caller with nothing to serve waits for another process's load. @default '5s' */
  wait?: Duration
  /** After `wait`: run the loader anyway ('load') or throw E_LOCK_TIMEOUT ('throw'). @default 'load' */
  onTimeout?: 'load' | 'throw'
  /** 'redis': SET NX on the entry's own slot. 'redlock': quorum over `clients`. @default 'redis' */
  strategy?: 'redis' | 'redlock'
  /** Independent Redis primaries for redlock. */
  clients?: Array<Redis | Cluster | IoredisInstance>
  /**
   * Tuning of the redlock quorum lock; only with `strategy: 'redlock'`.
   * @example `lock: { strategy: 'redlock', clients, redlock: { driftFactor: 0.02 } }`
   */
  redlock?: RedlockLockOptions
}

/** Early refresh (XFetch): a hit may refresh a hot key before it expires. */
export interface EarlyRefreshOptions {
  /** XFetch beta: > 1 refreshes earlier, < 1 later, 0 never. @default 1 */
  beta?: number
}

/** The circuit breaker in front of Redis (`breaker`), one per primary on a cluster. */
export interface BreakerOptions {
  /** Consecutive Redis failures that open the circuit. @default 5 */
  threshold?: number
  /** How long the circuit stays open before one probe is let through. @default '1s' */
  cooldown?: Duration
}

/** The in-process tier (`l1`): an LRU of fresh entries, kept coherent by the bus. */
export interface L1Options {
  /** Maximum entries. @default 10_000 */
  max?: number
  /** Maximum approximate bytes (encoded size); 0 for no byte bound. @default 0 */
  maxBytes?: number
  /** Cap on how long an entry lives in L1 (never past its freshUntil anyway). @default unlimited */
  ttl?: Duration
  /** Hand each caller a structured clone instead of the shared object. @default false */
  clone?: boolean
}

/** The invalidation bus (`bus`): Pub/Sub messages that keep every process's L1 coherent. */
export interface BusOptions {
  /** HMAC-SHA256 key (or keys: first signs, all verify, for rotation). Unsigned or forged messages are dropped. */
  signingKey?: string | Buffer | Array<string | Buffer>
  /** Sharded Pub/Sub (SSUBSCRIBE/SPUBLISH) on a cluster. @default false */
  sharded?: boolean
  /** Number of sharded channels. @default 16 */
  channels?: number
  /** Signed messages older than this are dropped as replays; at least 1s (clocks differ). @default '30s' */
  maxAge?: Duration
  /**
   * End-to-end health bound: every process heartbeats on every bus channel (every quarter of
   * this) and stops using L1 and in-process tag times as soon as a channel shows a sequence gap
   * or its own heartbeat has not come back for half of it. An L1 entry is served at most about
   * this long after a lost invalidation. @default '1s' @example healthWindow: '500ms'
   */
  healthWindow?: Duration
  /** In-process tag-time table (LRU; an evicted tag is read from Redis again). @default 10_000 */
  maxTagTimes?: number
}

/** Options that may be given per call (and per namespace, and per client). */
export interface CallOptions {
  /** How long an entry is fresh. @default '5m' @example ttl: '10m' */
  ttl?: Duration
  /** How long after `ttl` a stale copy is kept as a fallback. @default '1h' */
  staleTtl?: Duration
  /** Fresh TTL for a cached `null` (negative caching). @default the ttl */
  nullTtl?: Duration
  /** ±fraction applied to TTLs so keys written together do not expire together. @default 0.1 */
  jitter?: number
  /** Tags for invalidateTags(). @example tags: ['users'] */
  tags?: readonly string[]
  /** Serve stale at once and refresh in the background. @default true */
  staleWhileRevalidate?: boolean
  /** Probabilistic early refresh (XFetch); false to disable. @default { beta: 1 } */
  earlyRefresh?: EarlyRefreshOptions | false
  /** After a loader failure served stale, keep it fresh this long before retrying. @default '5s' */
  failSafeBackoff?: Duration
  /** Loader timeouts. */
  timeouts?: TimeoutOptions
  /** Lock behaviour for this call (ttl, wait, onTimeout). */
  lock?: Pick<LockOptions, 'ttl' | 'wait' | 'onTimeout'>
  /** Redis trouble → answer from the loader and emit 'error' (true), or throw E_STORE_UNAVAILABLE (false). @default true */
  failOpen?: boolean
  /** Skip the L1 tier for this call. @default false */
  skipL1?: boolean
}

/** What `createCache()` takes: the call options (defaults for every call) plus the client-level ones. */
export interface CacheOptions extends Omit<CallOptions, 'lock' | 'skipL1'> {
  /** Redis to use as L2. Absent: the embedded in-memory store. */
  redis?: RedisInput
  /** Every key and channel starts with it (ACL: `~prefix* &prefix*`). @default 'herdless' */
  prefix?: string
  /** Stampede lock: ttl, wait, onTimeout, and `strategy: 'redlock'` with its `clients`. */
  lock?: LockOptions
  /** Per-command Redis deadline, 1ms to 2^31-1 ms (there is no "no deadline"). @default '250ms' */
  redisTimeout?: Duration
  /**
   * Where errors go besides the `error` event: a pino-compatible logger (`warn`/`error`/`debug`,
   * object first, message second), or false for silence. Absent: one console warning per cause
   * while nobody listens to `error`. @example logger: pino()
   */
  logger?: Logger | false
  /** Circuit breaker around Redis; false to disable. */
  breaker?: BreakerOptions | false
  /** @default 1024 */
  maxKeyLength?: number
  /** Values encoding larger are returned but not stored. @default 1_048_576 (1 MiB) */
  maxValueBytes?: number
  /** In-process tier; false (default) to disable. @example l1: { max: 10_000 } */
  l1?: L1Options | boolean
  /** Invalidation bus (Pub/Sub): L1 coherence and lock-waiter wake-ups. On by default with Redis. */
  bus?: BusOptions | boolean
  /** Memory store capacity (embedded default only). @default 100_000 */
  memoryMaxEntries?: number
  /**
   * Topology monitor (Redis only): polls CLUSTER INFO / CLUSTER NODES / INFO memory and emits
   * `topology:*` events. Off by default. @example topology: { pollInterval: '5s' }
   */
  topology?: TopologyOptions | boolean
  /**
   * Skip L2 writes to a primary above `maxMemoryRatio` of its maxmemory (judged from the
   * monitor's last poll; turns the monitor on). Off by default. @example writeGuard: { maxMemoryRatio: 0.85 }
   */
  writeGuard?: WriteGuardOptions | boolean
}

/** The topology monitor (`topology`): polls the cluster or server for state and memory. */
export interface TopologyOptions {
  /** Time between polls. @default '5s' */
  pollInterval?: Duration
}

/** The write guard (`writeGuard`): skips L2 writes to a primary that is almost full. */
export interface WriteGuardOptions {
  /** `used_memory / maxmemory` above which writes to that node are skipped. @default 0.85 */
  maxMemoryRatio?: number
}

/** What the engine reads: every duration in ms, every default filled. Frozen. */
export interface ResolvedCallOptions {
  readonly ttl: number
  readonly staleTtl: number
  readonly nullTtl: number
  readonly jitter: number
  readonly tags: readonly string[]
  readonly staleWhileRevalidate: boolean
  readonly earlyRefreshBeta: number
  readonly failSafeBackoff: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly lockTtl: number
  readonly lockWait: number
  readonly lockOnTimeout: 'load' | 'throw'
  readonly failOpen: boolean
  readonly skipL1: boolean
}

export interface ResolvedCacheOptions {
  readonly prefix: string
  readonly redisTimeout: number
  readonly breakerThreshold: number
  readonly breakerCooldown: number
  readonly maxKeyLength: number
  readonly maxValueBytes: number
  readonly lockStrategy: 'redis' | 'redlock'
  /** With `lockStrategy: 'redlock'`: its resolved options; undefined otherwise. */
  readonly redlock: Required<RedlockLockOptions> | undefined
  readonly l1: false | { max: number; maxBytes: number; ttl: number; clone: boolean }
  readonly bus:
    | false
    | {
        signingKeys: Buffer[]
        sharded: boolean
        channels: number
        maxAge: number
        healthWindow: number
        maxTagTimes: number
      }
  readonly memoryMaxEntries: number
  readonly topology: false | { readonly pollInterval: number }
  readonly writeGuard: false | { readonly maxMemoryRatio: number }
  /** undefined: console, once per cause, only while nobody listens to `error`. */
  readonly logger: Logger | false | undefined
  /** Where L2 lives, for messages (`127.0.0.1:6379`, `cluster 10.0.0.1:7000,...`, `memory`); no credentials. */
  readonly redisAddress: string
  readonly call: ResolvedCallOptions
}

export const DEFAULT_CALL_OPTIONS: ResolvedCallOptions = Object.freeze({
  ttl: 5 * 60_000,
  staleTtl: 60 * 60_000,
  nullTtl: -1,
  jitter: 0.1,
  tags: Object.freeze([]) as readonly string[],
  staleWhileRevalidate: true,
  earlyRefreshBeta: 1,
  failSafeBackoff: 5_000,
  softTimeout: 0,
  hardTimeout: 0,
  lockTtl: 10_000,
  lockWait: 5_000,
  lockOnTimeout: 'load',
  failOpen: true,
  skipL1: false,
})

const CALL_KEYS = new Set<string>([
  'ttl',
  'staleTtl',
  'nullTtl',
  'jitter',
  'tags',
  'staleWhileRevalidate',
  'earlyRefresh',
  'failSafeBackoff',
  'timeouts',
  'lock',
  'failOpen',
  'skipL1',
])
const CACHE_KEYS = new Set<string>([
  ...CALL_KEYS,
  'redis',
  'prefix',
  'redisTimeout',
  'breaker',
  'maxKeyLength',
  'maxValueBytes',
  'l1',
  'bus',
  'memoryMaxEntries',
  'topology',
  'writeGuard',
  'logger',
])

/**
 * The one merge: a layer of CallOptions over resolved options. Returns `base` itself when
 * the layer overrides nothing, so hot calls with no options allocate nothing.
 */
export function resolveCallOptions(
  base: ResolvedCallOptions,
  layer: CallOptions | undefined,
  where = 'options',
): ResolvedCallOptions {
  if (layer === undefined) return base
  if (typeof layer !== 'object' || layer === null || Array.isArray(layer)) {
    throw new InvalidOptionError(where, 'an object of call options, or undefined', layer)
  }
  let out: { -readonly [K in keyof ResolvedCallOptions]: ResolvedCallOptions[K] } | undefined
  const set = <K extends keyof ResolvedCallOptions>(k: K, v: ResolvedCallOptions[K]) => {
    if (base[k] === v) return
    if (out === undefined) out = { ...base }
    out[k] = v
  }
  for (const name of Object.keys(layer)) {
    if (!CALL_KEYS.has(name)) {
      throw new InvalidOptionError(`${where}.${name}`, `one of: ${[...CALL_KEYS].join(', ')}`, name)
    }
  }
  if (layer.ttl !== undefined) set('ttl', toMs(layer.ttl, 'ttl'))
  if (layer.staleTtl !== undefined) set('staleTtl', toMs(layer.staleTtl, 'staleTtl'))
  if (layer.nullTtl !== undefined) set('nullTtl', toMs(layer.nullTtl, 'nullTtl'))
  if (layer.jitter !== undefined) {
    if (typeof layer.jitter !== 'number' || !(layer.jitter >= 0 && layer.jitter < 1)) {
      throw new InvalidOptionError('jitter', 'a number from 0 (none) to below 1, e.g. 0.1', layer.jitter)
    }
    set('jitter', layer.jitter)
  }
  if (layer.tags !== undefined) {
    if (
      !Array.isArray(layer.tags) ||
      !layer.tags.every((t) => typeof t === 'string' && isWellFormedText(t))
    ) {
      throw new InvalidOptionError('tags', 'an array of non-empty, well-formed strings', layer.tags)
    }
    set('tags', Object.freeze([...new Set(layer.tags)]))
  }
  if (layer.staleWhileRevalidate !== undefined) {
    set('staleWhileRevalidate', bool(layer.staleWhileRevalidate, 'staleWhileRevalidate'))
  }
  if (layer.earlyRefresh !== undefined) {
    const er = layer.earlyRefresh
    if (er === false) set('earlyRefreshBeta', 0)
    else if (typeof er === 'object' && er !== null) {
      const beta = er.beta ?? 1
      if (typeof beta !== 'number' || !(beta >= 0) || !Number.isFinite(beta)) {
        throw new InvalidOptionError('earlyRefresh.beta', 'a finite number >= 0 (0 disables)', beta)
      }
      set('earlyRefreshBeta', beta)
    } else throw new InvalidOptionError('earlyRefresh', 'false or { beta: number }', er)
  }
  if (layer.failSafeBackoff !== undefined)
    set('failSafeBackoff', toMs(layer.failSafeBackoff, 'failSafeBackoff'))
  if (layer.timeouts !== undefined) {
    const t = layer.timeouts
    if (typeof t !== 'object' || t === null) {
      throw new InvalidOptionError('timeouts', '{ soft?: duration | false, hard?: duration | false }', t)
    }
    if (t.soft !== undefined) set('softTimeout', t.soft === false ? 0 : timerMs(t.soft, 'timeouts.soft'))
    if (t.hard !== undefined) set('hardTimeout', t.hard === false ? 0 : timerMs(t.hard, 'timeouts.hard'))
  }
  if (layer.lock !== undefined) {
    const l = layer.lock
    if (typeof l !== 'object' || l === null) throw new InvalidOptionError('lock', 'an object', l)
    if (l.ttl !== undefined) {
      const ttl = timerMs(l.ttl, 'lock.ttl')
      if (ttl < 10) throw new InvalidOptionError('lock.ttl', 'a duration of at least 10ms', l.ttl)
      set('lockTtl', ttl)
    }
    if (l.wait !== undefined) set('lockWait', timerMs(l.wait, 'lock.wait'))
    if (l.onTimeout !== undefined) {
      if (l.onTimeout !== 'load' && l.onTimeout !== 'throw') {
        throw new InvalidOptionError('lock.onTimeout', "'load' or 'throw'", l.onTimeout)
      }
      set('lockOnTimeout', l.onTimeout)
    }
  }
  if (layer.failOpen !== undefined) set('failOpen', bool(layer.failOpen, 'failOpen'))
  if (layer.skipL1 !== undefined) set('skipL1', bool(layer.skipL1, 'skipL1'))
  if (out === undefined) return base
  checkCombined(out)
  return Object.freeze(out)
}

/** Rules between fields, checked on the merged result (a call's soft may meet a client's hard). */
function checkCombined(o: ResolvedCallOptions): void {
  if (o.softTimeout > 0 && o.hardTimeout > 0 && o.softTimeout > o.hardTimeout) {
    throw new InvalidOptionError(
      'timeouts.soft',
      `at most timeouts.hard (${o.hardTimeout} ms): past hard the call has already failed, so a later soft timeout never serves stale`,
      o.softTimeout,
    )
  }
  if (o.ttl + o.staleTtl > MAX_TTL_MS || o.nullTtl + o.staleTtl > MAX_TTL_MS) {
    throw new InvalidOptionError(
      'staleTtl',
      'such that ttl + staleTtl is at most 2^50 ms (sent to Redis as PX)',
      o.staleTtl,
    )
  }
}

/** No lone surrogates: two keys differing only in one would encode to the same UTF-8 bytes. */
export function isWellFormedText(s: string): boolean {
  return s.length > 0 && (s as { isWellFormed?: () => boolean }).isWellFormed?.() !== false
}

/** Validate and resolve what createCache() was given. Throws InvalidOptionError naming the option. */
const REDLOCK_KEYS = new Set<string>(['driftFactor'])

/** `lock.redlock`: only beside `strategy: 'redlock'`, known keys, driftFactor in [0, 0.5). */
function resolveRedlock(
  strategy: 'redis' | 'redlock',
  options: RedlockLockOptions | undefined,
): Required<RedlockLockOptions> | undefined {
  if (options !== undefined && strategy !== 'redlock') {
    throw new InvalidOptionError('lock.redlock', "absent unless lock.strategy is 'redlock'", options)
  }
  if (strategy !== 'redlock') return undefined
  const o = options ?? {}
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new InvalidOptionError('lock.redlock', 'an object such as { driftFactor: 0.01 }', o)
  }
  for (const name of Object.keys(o)) {
    if (!REDLOCK_KEYS.has(name)) {
      throw new InvalidOptionError(
        `lock.redlock.${name}`,
        `a known option (${[...REDLOCK_KEYS].join(', ')})`,
        name,
      )
    }
  }
  const driftFactor = o.driftFactor ?? 0.01
  if (typeof driftFactor !== 'number' || !(driftFactor >= 0 && driftFactor < 0.5)) {
    throw new InvalidOptionError(
      'lock.redlock.driftFactor',
      'a number from 0 to below 0.5, e.g. 0.01',
      driftFactor,
    )
  }
  return { driftFactor }
}

export function resolveCacheOptions(options: CacheOptions | undefined): ResolvedCacheOptions {
  const o = options ?? {}
  if (typeof o !== 'object' || o === null) throw new InvalidOptionError('options', 'an object', o)
  for (const name of Object.keys(o)) {
    if (!CACHE_KEYS.has(name)) {
      throw new InvalidOptionError(name, `a known option (${[...CACHE_KEYS].join(', ')})`, name)
    }
  }
  const prefix = o.prefix ?? 'herdless'
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.\-:]{1,64}$/.test(prefix)) {
    throw new InvalidOptionError('prefix', 'a string of 1-64 characters from A-Z a-z 0-9 _ . - :', prefix)
  }
  const lock = o.lock ?? {}
  if (typeof lock !== 'object' || lock === null) throw new InvalidOptionError('lock', 'an object', lock)
  const strategy = lock.strategy ?? 'redis'
  if (strategy !== 'redis' && strategy !== 'redlock') {
    throw new InvalidOptionError('lock.strategy', "'redis' or 'redlock'", strategy)
  }
  if (strategy === 'redlock' && (!Array.isArray(lock.clients) || lock.clients.length === 0)) {
    throw new InvalidOptionError(
      'lock.clients',
      'a non-empty array of ioredis clients with redlock',
      lock.clients,
    )
  }
  const redlock = resolveRedlock(strategy, lock.redlock)
  const callLayer: CallOptions = {}
  for (const k of CALL_KEYS) {
    const v = (o as Record<string, unknown>)[k]
    if (v === undefined) continue
    if (k === 'lock') {
      const { ttl, wait, onTimeout } = lock
      ;(callLayer as Record<string, unknown>).lock = { ttl, wait, onTimeout }
    } else (callLayer as Record<string, unknown>)[k] = v
  }
  const call = resolveCallOptions(DEFAULT_CALL_OPTIONS, callLayer)

  let breakerThreshold = 5
  let breakerCooldown = 1_000
  if (o.breaker === false) breakerThreshold = 0
  else if (o.breaker !== undefined) {
    if (typeof o.breaker !== 'object' || o.breaker === null) {
      throw new InvalidOptionError('breaker', 'false or { threshold, cooldown }', o.breaker)
    }
    if (o.breaker.threshold !== undefined) breakerThreshold = posInt(o.breaker.threshold, 'breaker.threshold')
    if (o.breaker.cooldown !== undefined) breakerCooldown = timerMs(o.breaker.cooldown, 'breaker.cooldown')
  }

  let l1: ResolvedCacheOptions['l1'] = false
  if (o.l1 !== undefined && o.l1 !== false) {
    const l = o.l1 === true ? {} : o.l1
    if (typeof l !== 'object' || l === null)
      throw new InvalidOptionError('l1', 'false, true or { max, maxBytes, ttl, clone }', l)
    l1 = Object.freeze({
      max: l.max === undefined ? 10_000 : posInt(l.max, 'l1.max'),
      maxBytes: l.maxBytes === undefined ? 0 : nonNegInt(l.maxBytes, 'l1.maxBytes'),
      ttl: l.ttl === undefined ? 0 : toMs(l.ttl, 'l1.ttl'),
      clone: l.clone === undefined ? false : bool(l.clone, 'l1.clone'),
    })
  }

  let bus: ResolvedCacheOptions['bus'] = false
  // On with Redis: it carries L1 invalidations and wakes lock waiters in other processes.
  const busDefault = o.redis !== undefined
  if (
    o.bus === true ||
    (o.bus === undefined && busDefault) ||
    (typeof o.bus === 'object' && o.bus !== null)
  ) {
    const b: BusOptions = typeof o.bus === 'object' && o.bus !== null ? o.bus : {}
    const keys = b.signingKey === undefined ? [] : Array.isArray(b.signingKey) ? b.signingKey : [b.signingKey]
    const signingKeys = keys.map((k, i) => {
      if (typeof k === 'string' && k.length >= 16) return Buffer.from(k)
      if (Buffer.isBuffer(k) && k.length >= 16) return Buffer.from(k)
      throw new InvalidOptionError(`bus.signingKey[${i}]`, 'a string or Buffer of at least 16 bytes', k)
    })
    bus = Object.freeze({
      signingKeys,
      sharded: b.sharded === undefined ? false : bool(b.sharded, 'bus.sharded'),
      channels: b.channels === undefined ? 16 : posInt(b.channels, 'bus.channels'),
      maxAge: b.maxAge === undefined ? 30_000 : busMaxAge(b.maxAge),
      healthWindow: healthWindow(b.healthWindow),
      maxTagTimes: b.maxTagTimes === undefined ? 10_000 : posInt(b.maxTagTimes, 'bus.maxTagTimes'),
    })
  } else if (o.bus !== undefined && o.bus !== false) {
    throw new InvalidOptionError('bus', 'a boolean or { signingKey, sharded, channels }', o.bus)
  }

  return Object.freeze({
    prefix,
    redisTimeout: o.redisTimeout === undefined ? 250 : redisTimeout(o.redisTimeout),
    breakerThreshold,
    breakerCooldown,
    maxKeyLength: o.maxKeyLength === undefined ? 1024 : posInt(o.maxKeyLength, 'maxKeyLength'),
    maxValueBytes: o.maxValueBytes === undefined ? 1_048_576 : posInt(o.maxValueBytes, 'maxValueBytes'),
    lockStrategy: strategy,
    redlock,
    l1,
    bus,
    memoryMaxEntries:
      o.memoryMaxEntries === undefined ? 100_000 : posInt(o.memoryMaxEntries, 'memoryMaxEntries'),
    ...resolveTopology(o.topology, o.writeGuard),
    logger: resolveLogger(o.logger),
    redisAddress: describeRedis(o.redis),
    call,
  })
}

/** `topology` and `writeGuard`; the guard reads the monitor's figures, so it turns the monitor on. */
function resolveTopology(t: unknown, g: unknown): Pick<ResolvedCacheOptions, 'topology' | 'writeGuard'> {
  const topoLayer = optionObject(t, 'topology', ['pollInterval'], '{ pollInterval }')
  const guardLayer = optionObject(g, 'writeGuard', ['maxMemoryRatio'], '{ maxMemoryRatio }')
  let writeGuard: ResolvedCacheOptions['writeGuard'] = false
  if (guardLayer !== undefined) {
    if (t === false) {
      throw new InvalidOptionError(
        'writeGuard',
        'off while topology is false (the guard reads the monitor)',
        g,
      )
    }
    const r = guardLayer.maxMemoryRatio ?? 0.85
    if (typeof r !== 'number' || !(r > 0 && r <= 1)) {
      throw new InvalidOptionError('writeGuard.maxMemoryRatio', 'a number in (0, 1], e.g. 0.85', r)
    }
    writeGuard = Object.freeze({ maxMemoryRatio: r })
  }
  if (topoLayer === undefined && writeGuard === false) return { topology: false, writeGuard }
  const raw = topoLayer?.pollInterval
  const pollInterval = raw === undefined ? 5_000 : timerMs(raw, 'topology.pollInterval')
  if (pollInterval < 10) {
    throw new InvalidOptionError('topology.pollInterval', "a duration of at least 10ms, e.g. '5s'", raw)
  }
  return { topology: Object.freeze({ pollInterval }), writeGuard }
}

/** undefined for absent/false, {} for true, the object (with known keys only) otherwise. */
function optionObject(
  v: unknown,
  name: string,
  keys: readonly string[],
  shape: string,
): Record<string, unknown> | undefined {
  if (v === undefined || v === false) return undefined
  if (v === true) return {}
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidOptionError(name, `a boolean or ${shape}`, v)
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw new InvalidOptionError(`${name}.${k}`, `one of: ${keys.join(', ')}`, k)
  }
  return v as Record<string, unknown>
}

function redisTimeout(v: unknown): number {
  const t = timerMs(v, 'redisTimeout')
  if (t < 1) {
    throw new InvalidOptionError(
      'redisTimeout',
      "a duration of at least 1ms, e.g. '250ms' (0 would mean no deadline: a hung Redis would hang every call; use a large value such as '10s' if you must)",
      v,
    )
  }
  return t
}

/** Below a second, ordinary clock skew between hosts drops every signed message as a replay. */
function busMaxAge(v: unknown): number {
  const t = timerMs(v, 'bus.maxAge')
  if (t < 1_000) {
    throw new InvalidOptionError(
      'bus.maxAge',
      "a duration of at least 1s, e.g. '30s' (messages older than it are dropped; clocks between hosts differ by more than a few ms)",
      v,
    )
  }
  return t
}

function resolveLogger(v: unknown): Logger | false | undefined {
  if (v === undefined || v === false) return v
  const l = v as Record<string, unknown> | null
  if (typeof l !== 'object' || l === null || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw new InvalidOptionError(
      'logger',
      'false or a pino-compatible logger with warn(obj, msg) and error(obj, msg) (debug optional)',
      v,
    )
  }
  return v as Logger
}

/** host:port of what `redis` points at, for messages; never the password. */
export function describeRedis(r: unknown): string {
  if (r === undefined) return 'memory'
  if (typeof r === 'string') {
    try {
      const u = new URL(r)
      return `${u.hostname}:${u.port || '6379'}`
    } catch {
      return 'an invalid URL'
    }
  }
  if (typeof r !== 'object' || r === null) return 'unknown'
  const o = r as {
    cluster?: unknown
    host?: unknown
    port?: unknown
    options?: { host?: unknown; port?: unknown }
  }
  // A cluster config, or a Cluster instance (ioredis keeps its startup nodes there).
  const list = Array.isArray(o.cluster) ? o.cluster : (o as { startupNodes?: unknown }).startupNodes
  if (Array.isArray(list)) {
    const nodes = list
      .slice(0, 3)
      .map((n: unknown) =>
        typeof n === 'object' && n !== null
          ? `${(n as { host?: string }).host ?? '127.0.0.1'}:${(n as { port?: number }).port ?? 6379}`
          : String(n),
      )
    return `cluster ${nodes.join(',')}${list.length > 3 ? ',...' : ''}`
  }
  const src = typeof o.options === 'object' && o.options !== null ? o.options : o
  return `${typeof src.host === 'string' ? src.host : '127.0.0.1'}:${typeof src.port === 'number' ? src.port : 6379}`
}

function bool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidOptionError(name, 'true or false', v)
  return v
}
/** Heartbeats go out every quarter of the window: below 40 ms they would flood the bus. */
function healthWindow(v: Duration | undefined): number {
  if (v === undefined) return 1_000
  const ms = toMs(v, 'bus.healthWindow')
  if (ms < 40) throw new InvalidOptionError('bus.healthWindow', 'a duration of at least 40ms', v)
  return ms
}

function posInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new InvalidOptionError(name, 'an integer >= 1', v)
  return v
}
function nonNegInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new InvalidOptionError(name, 'an integer >= 0', v)
  return v
}
