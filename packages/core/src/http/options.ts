import type { Cache } from '../cache'
import { type Duration, toMs } from '../duration'
import { InvalidOptionError } from '../errors'
import type { CallOptions } from '../options'
import type { HttpRequestInfo } from './types'

/** Options a single route may set (Fastify `config.cache`, or one Express middleware). */
export interface RouteCacheOptions {
  /** How long a stored response is fresh (served as HIT). @default '5m' @example ttl: '30s' */
  ttl?: Duration
  /**
   * How long after `ttl` the response is kept and served as STALE while one request refreshes
   * it, or when the handler fails. @default the cache's staleTtl ('1h' unless set)
   */
  staleTtl?: Duration
  /** ±fraction applied to `ttl` so responses stored together do not expire together. @default 0.1 */
  jitter?: number
  /** Tags for `cache.invalidateTags()` / `invalidate({ tags })`. @example tags: ['products'] */
  tags?: readonly string[]
  /** Request headers whose values split the entry (one copy per value). @example vary: ['accept-language'] */
  vary?: readonly string[]
  /** Response statuses that are stored. @default [200] */
  statuses?: readonly number[]
  /** Larger bodies pass through uncached (keep it under the cache's maxValueBytes). @default 1_000_000 */
  maxBodyBytes?: number
  /** Cache requests that carry an Authorization header (shared between users!). @default false */
  allowAuthorized?: boolean
  /**
   * The route's body is the same for every user: requests carrying `Cookie` or `Authorization`
   * are looked up and stored like any other (the response's own `Vary` still applies). Off, such
   * requests bypass the cache (Varnish's default), unless the route's `vary` names the header.
   * @default false
   */
  public?: boolean
  /**
   * Ignore the handler's freshness (`s-maxage`, `max-age`, `Expires`, `stale-while-revalidate`,
   * `stale-if-error`, `must-revalidate`, `proxy-revalidate`) and use the route's `ttl` / `staleTtl`,
   * like nginx's `proxy_ignore_headers Cache-Control Expires`. `no-store`, `private`, `no-cache`,
   * `Set-Cookie` and `Vary` are still honoured. @default false
   */
  ignoreResponseFreshness?: boolean
  /**
   * Honour the request's `Cache-Control: no-cache` / `max-age=0` / `Pragma: no-cache` (the
   * response is refreshed from the handler) and `no-store` (bypass). Off by default: any
   * client could otherwise make every request reach the handler. @default false
   */
  respectRequestCacheControl?: boolean
}

/** Options of a response cache (`createResponseCache`). */
export interface ResponseCacheOptions extends RouteCacheOptions {
  /** The cache that holds responses: its Redis, L1, lock and events are used as they are. */
  cache: Cache
  /**
   * Put response entries in `cache.namespace(name)`. By default they share the cache's keyspace
   * (keys begin with `http:`), so `cache.invalidateTags(['products'])` reaches responses too.
   * @default undefined
   */
  namespace?: string
  /**
   * Response headers stored besides the default set (cache-control, content-disposition,
   * content-encoding, content-language, content-type, etag, expires, last-modified, link, vary).
   * Set-Cookie and hop-by-hop headers are never stored. @example headers: ['x-total-count']
   */
  headers?: readonly string[]
  /** Replace the default key (method + normalized URL + vary headers); undefined keeps the default. */
  key?: (req: HttpRequestInfo) => string | undefined
  /** A refresh run (stale-while-revalidate, HEAD miss) is abandoned after this. @default '30s' */
  refreshTimeout?: Duration
  /** Called with errors the response cache absorbed (it failed open and ran the handler). */
  onError?: (error: unknown) => void
}

/** Route options with every default filled and the per-call cache options built once. */
export interface ResolvedRoute {
  /** Fresh TTL in ms. */
  readonly ttl: number
  /** How long a stale copy is kept after ttl, in ms. */
  readonly staleTtl: number | undefined
  /** Jitter fraction applied to the TTLs. */
  readonly jitter: number
  /** Tags every response of the route carries. */
  readonly tags: readonly string[]
  /** Request headers that are part of the key. */
  readonly vary: readonly string[]
  /** Status codes that are stored. */
  readonly statuses: ReadonlySet<number>
  /** Larger bodies are not stored. */
  readonly maxBodyBytes: number
  /** Whether requests with Authorization are cached. */
  readonly allowAuthorized: boolean
  /** Whether the route's responses are shared between users (no private data). */
  readonly public: boolean
  /** Ignore the handler's Cache-Control/Expires and use the route's TTLs. */
  readonly ignoreResponseFreshness: boolean
  /** Honour a request's `Cache-Control: no-cache` (a fresh copy). */
  readonly respectRequestCacheControl: boolean
  /** Options handed to getOrSet (hoisted so the cache resolves them once). */
  readonly call: CallOptions
  /** The same without stale-while-revalidate: a request that asked for a fresh copy waits for it. */
  readonly refreshCall: CallOptions
}

export const DEFAULT_TTL = 5 * 60_000
export const DEFAULT_MAX_BODY_BYTES = 1_000_000
export const DEFAULT_REFRESH_TIMEOUT = 30_000

/** Stored unless a route says otherwise: what a client needs to use the body, and validators. */
export const DEFAULT_STORED_HEADERS: readonly string[] = Object.freeze([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'link',
  'vary',
])

/** Never stored: per-user, per-connection (hop-by-hop), or recomputed when served. */
export const NEVER_STORED_HEADERS: ReadonlySet<string> = new Set([
  'set-cookie',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'date',
  'age',
  'x-cache',
])

const ROUTE_KEYS = new Set([
  'ttl',
  'staleTtl',
  'jitter',
  'tags',
  'vary',
  'statuses',
  'maxBodyBytes',
  'allowAuthorized',
  'public',
  'ignoreResponseFreshness',
  'respectRequestCacheControl',
])
const TOP_KEYS = new Set([...ROUTE_KEYS, 'cache', 'namespace', 'headers', 'key', 'refreshTimeout', 'onError'])

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const BASE_ROUTE: ResolvedRoute = buildRoute({
  ttl: DEFAULT_TTL,
  staleTtl: undefined,
  jitter: 0.1,
  tags: [],
  vary: [],
  statuses: new Set([200]),
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  allowAuthorized: false,
  public: false,
  ignoreResponseFreshness: false,
  respectRequestCacheControl: false,
})

type RouteFields = Omit<ResolvedRoute, 'call' | 'refreshCall'>

function buildRoute(f: RouteFields): ResolvedRoute {
  // Jitter is applied by the response cache itself (ctx.setTtl), so that the freshness it
  // records in the stored response is the one the engine uses: X-Cache needs no extra read.
  const call: CallOptions = {
    ttl: f.ttl,
    jitter: 0,
    // A soft timeout would answer the leader with a stale copy while its handler still runs.
    timeouts: { soft: false },
    ...(f.staleTtl === undefined ? {} : { staleTtl: f.staleTtl }),
  }
  return Object.freeze({
    ...f,
    call: Object.freeze(call),
    refreshCall: Object.freeze({ ...call, staleWhileRevalidate: false }),
  })
}

/** Check the keys of an options object; unknown ones are typos worth an error. */
export function checkKeys(options: object, allowed: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(options)) {
    if (!allowed.has(name)) {
      throw new InvalidOptionError(`${where}.${name}`, `one of: ${[...allowed].join(', ')}`, name)
    }
  }
}

/**
 * One route layer over resolved defaults. Throws InvalidOptionError (E_INVALID_OPTION) naming
 * the option; returns `base` itself when the layer changes nothing.
 */
export function resolveRoute(
  base: ResolvedRoute,
  layer: RouteCacheOptions | undefined,
  where: string,
  keys: ReadonlySet<string> = ROUTE_KEYS,
): ResolvedRoute {
  if (layer === undefined) return base
  if (typeof layer !== 'object' || layer === null || Array.isArray(layer)) {
    throw new InvalidOptionError(where, 'an object of response cache options', layer)
  }
  checkKeys(layer, keys, where)
  const f: { -readonly [K in keyof RouteFields]: RouteFields[K] } = { ...base }
  let changed = false
  if (layer.ttl !== undefined) {
    f.ttl = toMs(layer.ttl, `${where}.ttl`)
    if (f.ttl < 1) throw new InvalidOptionError(`${where}.ttl`, 'a duration of at least 1ms', layer.ttl)
    changed = true
  }
  if (layer.staleTtl !== undefined) {
    f.staleTtl = toMs(layer.staleTtl, `${where}.staleTtl`)
    changed = true
  }
  if (layer.jitter !== undefined) {
    if (typeof layer.jitter !== 'number' || !(layer.jitter >= 0 && layer.jitter < 1)) {
      throw new InvalidOptionError(`${where}.jitter`, 'a number from 0 (none) to below 1', layer.jitter)
    }
    f.jitter = layer.jitter
    changed = true
  }
  if (layer.tags !== undefined) {
    f.tags = checkTags(layer.tags, `${where}.tags`)
    changed = true
  }
  if (layer.vary !== undefined) {
    if (!Array.isArray(layer.vary) || !layer.vary.every((h) => typeof h === 'string' && TOKEN.test(h))) {
      throw new InvalidOptionError(`${where}.vary`, 'an array of request header names', layer.vary)
    }
    f.vary = Object.freeze([...new Set(layer.vary.map((h: string) => h.toLowerCase()))].sort())
    changed = true
  }
  if (layer.statuses !== undefined) {
    const s = layer.statuses
    if (
      !Array.isArray(s) ||
      s.length === 0 ||
      !s.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 200 && n <= 599)
    ) {
      throw new InvalidOptionError(`${where}.statuses`, 'a non-empty array of HTTP statuses (200-599)', s)
    }
    f.statuses = new Set(s)
    changed = true
  }
  if (layer.maxBodyBytes !== undefined) {
    const n = layer.maxBodyBytes
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new InvalidOptionError(`${where}.maxBodyBytes`, 'an integer >= 0', n)
    }
    f.maxBodyBytes = n
    changed = true
  }
  if (layer.allowAuthorized !== undefined) {
    f.allowAuthorized = bool(layer.allowAuthorized, `${where}.allowAuthorized`)
    changed = true
  }
  if (layer.public !== undefined) {
    f.public = bool(layer.public, `${where}.public`)
    changed = true
  }
  if (layer.ignoreResponseFreshness !== undefined) {
    f.ignoreResponseFreshness = bool(layer.ignoreResponseFreshness, `${where}.ignoreResponseFreshness`)
    changed = true
  }
  if (layer.respectRequestCacheControl !== undefined) {
    f.respectRequestCacheControl = bool(
      layer.respectRequestCacheControl,
      `${where}.respectRequestCacheControl`,
    )
    changed = true
  }
  return changed ? buildRoute(f) : base
}

/** Validate the top-level options; returns the pieces the response cache keeps. */
export function resolveResponseCacheOptions(options: ResponseCacheOptions): {
  route: ResolvedRoute
  storedHeaders: ReadonlySet<string>
  refreshTimeout: number
} {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least { cache }', options)
  }
  checkKeys(options, TOP_KEYS, 'options')
  const cache = options.cache as unknown
  if (typeof cache !== 'object' || cache === null || typeof (cache as Cache).getOrSet !== 'function') {
    throw new InvalidOptionError('cache', 'a cache from createCache()', cache)
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new InvalidOptionError('key', 'a function (req) => string | undefined', options.key)
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidOptionError('onError', 'a function (error) => void', options.onError)
  }
  const stored = new Set(DEFAULT_STORED_HEADERS)
  if (options.headers !== undefined) {
    const h = options.headers
    if (!Array.isArray(h) || !h.every((x) => typeof x === 'string' && TOKEN.test(x))) {
      throw new InvalidOptionError('headers', 'an array of response header names', h)
    }
    for (const name of h) {
      const lower = name.toLowerCase()
      if (NEVER_STORED_HEADERS.has(lower)) {
        throw new InvalidOptionError(
          'headers',
          'header names other than Set-Cookie, hop-by-hop headers, Content-Length, Date, Age and X-Cache',
          name,
        )
      }
      stored.add(lower)
    }
  }
  const refreshTimeout =
    options.refreshTimeout === undefined
      ? DEFAULT_REFRESH_TIMEOUT
      : toMs(options.refreshTimeout, 'refreshTimeout')
  const routeLayer: RouteCacheOptions = {}
  for (const k of ROUTE_KEYS) {
    const v = (options as unknown as Record<string, unknown>)[k]
    if (v !== undefined) (routeLayer as Record<string, unknown>)[k] = v
  }
  return { route: resolveRoute(BASE_ROUTE, routeLayer, 'options'), storedHeaders: stored, refreshTimeout }
}

export function checkTags(tags: unknown, where: string): readonly string[] {
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new InvalidOptionError(where, 'an array of non-empty strings', tags)
  }
  return Object.freeze([...new Set(tags as string[])])
}

function bool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidOptionError(name, 'true or false', v)
  return v
}
