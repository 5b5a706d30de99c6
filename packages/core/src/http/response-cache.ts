import { createHash } from 'node:crypto'
import type { Cache } from '../cache'
import { InvalidKeyError, InvalidOptionError } from '../errors'
import type { CallOptions } from '../options'
import type { Loader, LoaderContext, ValueSource } from '../types'
import { BYPASS_HEADERS, MISS_HEADERS, STREAMED } from './adapter'
import { responsePolicy, varyMatches, varySnapshot, varyValue } from './freshness'
import { HttpHandlerError } from './handler-error'
import {
  BODY_HEADERS,
  computeEtag,
  etagMatches,
  NOT_MODIFIED_HEADERS,
  requestCacheControl,
  responseHeader,
} from './headers'
import {
  checkTags,
  type ResolvedRoute,
  type ResponseCacheOptions,
  type RouteCacheOptions,
  resolveResponseCacheOptions,
  resolveRoute,
} from './options'
import { KEY_PREFIX, normalizeUrl, pathPatterns, requestKey, VARIANT } from './request-key'
import type {
  BypassReason,
  CacheOutcome,
  HandlerResult,
  HttpRequestInfo,
  ResponseProducers,
  StoredResponse,
  UncacheableReason,
  XCacheStatus,
} from './types'

/** Per-request additions to a plan, computed by an adapter from its framework's request. */
export interface CachePlanOverrides {
  /** The route's options (resolved once per object and remembered). */
  route?: RouteCacheOptions
  /** A key the adapter computed (its own `key(req)` option); `http:` is prepended. */
  key?: string
  /** Tags for this request's entry, added to the route's. */
  tags?: readonly string[]
}

/** A request the cache will not look up (`X-Cache: BYPASS`). */
export interface BypassPlan {
  /** Not looked up. */
  readonly eligible: false
  /** Why the request bypasses the cache. */
  readonly reason: BypassReason
  /** Headers to set on the handler's response (X-Cache: BYPASS). */
  readonly headers: Readonly<Record<string, string>>
}

/** A request the cache will answer: what `lookup()` needs. */
export interface LookupPlan {
  /** Looked up. */
  readonly eligible: true
  /** The cache key of the response (method, normalized URL, Vary values). */
  readonly key: string
  /** HEAD is answered from the GET entry. */
  readonly method: 'GET' | 'HEAD'
  /** The request's If-None-Match, answered with 304 on a match. */
  readonly ifNoneMatch: string | undefined
  /** The request's If-Modified-Since. */
  readonly ifModifiedSince: string | undefined
  /** The request's headers: a stored response's Vary is matched against them. */
  readonly headers: HttpRequestInfo['headers']
  /** The client asked for a fresh copy (`respectRequestCacheControl`). */
  readonly refresh: boolean
  /** The route's resolved options. */
  readonly route: ResolvedRoute
  /** Tags stored with the response (for invalidation). */
  readonly tags: readonly string[]
}

/** What `ResponseCache.plan()` decided for a request. */
export type CachePlan = BypassPlan | LookupPlan

/** What `invalidate()` removes. */
export interface InvalidateTarget {
  /** Every response (and cache entry) carrying one of these tags: O(1) per tag. */
  tags?: string | readonly string[]
  /** Every stored variant (query strings, vary values) of these paths: one SCAN per path. */
  paths?: string | readonly string[]
  /** Entries stored under these `key(req)` keys (without the `http:` prefix). */
  keys?: string | readonly string[]
}

const RUN: CacheOutcome = Object.freeze({ kind: 'run', xCache: 'MISS', headers: MISS_HEADERS })

function outcomeOwn(result: HandlerResult): CacheOutcome {
  return { kind: 'own', xCache: 'MISS', result, headers: MISS_HEADERS }
}
const EMPTY: readonly string[] = Object.freeze([])
const BYPASS: Readonly<Record<BypassReason, BypassPlan>> = Object.freeze({
  method: Object.freeze({ eligible: false, reason: 'method', headers: BYPASS_HEADERS }),
  authorization: Object.freeze({ eligible: false, reason: 'authorization', headers: BYPASS_HEADERS }),
  cookie: Object.freeze({ eligible: false, reason: 'cookie', headers: BYPASS_HEADERS }),
  range: Object.freeze({ eligible: false, reason: 'range', headers: BYPASS_HEADERS }),
  'no-store': Object.freeze({ eligible: false, reason: 'no-store', headers: BYPASS_HEADERS }),
})

/** A response the loader produced but must not share (per-user, or no body to share). */
interface PassValue {
  readonly pass: UncacheableReason
}
type FlightValue = StoredResponse | PassValue

// Values that only ever live in-process (ctx.skip() keeps them out of the store), recognised
// by identity so that nothing read back from Redis can pose as one.
const passValues = new WeakSet<object>()
const uncachedValues = new WeakSet<object>()

/** Shared by the getOrSet attempts of one lookup: the live handler runs at most once. */
interface RunState {
  readonly started: number
  live: Promise<HandlerResult> | undefined
  own: HandlerResult | undefined
  /** What this request's own run (or the run it waits for) made. */
  produced: FlightValue | undefined
  /** A loader ran for this request (not a refresh nobody waits on). */
  ranForeground: boolean
}

type Attempt =
  | {
      readonly kind: 'value'
      readonly value: FlightValue
      readonly produced: boolean
      readonly ranForeground: boolean
      /** Where the engine says the value came from (getOrSetResult). */
      readonly source: ValueSource
    }
  | { readonly kind: 'failed' }

/**
 * X-Cache from the engine's own answer: this request's run made it (MISS), a stored copy served
 * fresh (HIT) or stale (STALE), or another run's result it waited for (MISS).
 */
function sourceOf(a: { produced: boolean; source: ValueSource }): 'loader' | 'stale' | 'waited' | 'fresh' {
  if (a.produced) return 'loader'
  switch (a.source) {
    case 'stale':
      return 'stale'
    case 'l1':
    case 'l2':
      return 'fresh'
    case 'loader':
      return 'loader'
    default:
      return 'waited'
  }
}

/** The key of one Vary variant: the URL key plus a hash of the varied headers' values. */
export function variantKey(
  key: string,
  names: readonly string[],
  headers: HttpRequestInfo['headers'],
): string {
  const h = createHash('sha256')
  for (const n of [...names].sort()) h.update(`${n}\n${varyValue(headers, n)}\n`)
  return `${key}${VARIANT}${h.digest('base64url')}`
}

function toList(v: string | readonly string[] | undefined, what: string): readonly string[] {
  if (v === undefined) return EMPTY
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new InvalidKeyError(`invalidate() needs ${what} as a non-empty string or an array of them.`, v)
  }
  return list
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * RFC 9110 13.2.2: If-None-Match (weak comparison) decides when present; otherwise
 * If-Modified-Since against the stored Last-Modified (an invalid date in either is ignored).
 */
function notModifiedFor(plan: LookupPlan, value: StoredResponse): boolean {
  if (plan.ifNoneMatch !== undefined) return value.etag !== '' && etagMatches(plan.ifNoneMatch, value.etag)
  if (plan.ifModifiedSince === undefined) return false
  const lm = value.headers['last-modified']
  if (lm === undefined) return false
  const since = Date.parse(plan.ifModifiedSince)
  const modified = Date.parse(lm)
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since
}

/** A value read back from the cache is one of ours (anything else under our key is ignored). */
export function isStoredResponse(v: unknown): v is StoredResponse {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return (
    typeof r.status === 'number' &&
    typeof r.etag === 'string' &&
    typeof r.storedAt === 'number' &&
    typeof r.freshUntil === 'number' &&
    r.body instanceof Uint8Array &&
    typeof r.headers === 'object' &&
    r.headers !== null &&
    (r.vary === undefined || (typeof r.vary === 'object' && r.vary !== null))
  )
}

/**
 * Framework-neutral HTTP response caching on top of `cache.getOrSet()`: the engine's
 * in-process coalescing, fleet-wide lock, stale-while-revalidate and stale-if-error apply to
 * responses as they do to values. Adapters translate requests (`plan`), capture handler
 * output (`ResponseProducers`) and send what `lookup()` decides.
 *
 * X-Cache: `HIT` fresh from the cache; `STALE` a stale copy (while one request refreshes it,
 * or because the handler failed); `MISS` this request ran the handler, or waited for the run
 * of a concurrent identical request (in this process or another); `BYPASS` not eligible.
 */
export class ResponseCache {
  /** The cache (or namespace) response entries live in. */
  readonly entries: Cache
  readonly #base: ResolvedRoute
  readonly #routes = new WeakMap<object, ResolvedRoute>()
  readonly #stored: ReadonlySet<string>
  readonly #replaced: readonly string[]
  readonly #key: ResponseCacheOptions['key']
  readonly #refreshTimeout: number
  readonly #onError: ResponseCacheOptions['onError']

  constructor(options: ResponseCacheOptions) {
    const resolved = resolveResponseCacheOptions(options)
    this.entries =
      options.namespace === undefined ? options.cache : options.cache.namespace(options.namespace)
    this.#base = resolved.route
    this.#stored = resolved.storedHeaders
    this.#replaced = Object.freeze([...new Set([...BODY_HEADERS, ...resolved.storedHeaders])])
    this.#key = options.key
    this.#refreshTimeout = resolved.refreshTimeout
    this.#onError = options.onError
  }

  /** Resolve (and remember) a route's options over this cache's defaults. Throws E_INVALID_OPTION. */
  route(options?: RouteCacheOptions): ResolvedRoute {
    if (options === undefined) return this.#base
    let r = this.#routes.get(options)
    if (r === undefined) {
      r = resolveRoute(this.#base, options, 'route cache options')
      this.#routes.set(options, r)
    }
    return r
  }

  /** Decide whether a request is looked up, and under which key. Cheap; no I/O. */
  plan(req: HttpRequestInfo, overrides?: CachePlanOverrides): CachePlan {
    const method = req.method.toUpperCase()
    if (method !== 'GET' && method !== 'HEAD') return BYPASS.method
    const route = this.route(overrides?.route)
    const h = req.headers
    // Per-user requests bypass unless the route is public or keyed on the header (Varnish's
    // default): a handler that reads the session without saying `Vary: Cookie` cannot leak.
    if (
      h.authorization !== undefined &&
      !route.allowAuthorized &&
      !route.public &&
      !route.vary.includes('authorization')
    )
      return BYPASS.authorization
    if (h.cookie !== undefined && !route.public && !route.vary.includes('cookie')) return BYPASS.cookie
    // A range request gets a 206 that other requests must not share.
    if (h.range !== undefined) return BYPASS.range
    let refresh = false
    if (route.respectRequestCacheControl) {
      const cc = requestCacheControl(h)
      if (cc === 'no-store') return BYPASS['no-store']
      refresh = cc === 'refresh'
    }
    let custom = overrides?.key
    if (custom === undefined && this.#key !== undefined) custom = this.#key(req)
    let key: string
    if (custom === undefined) {
      const { path, query } = normalizeUrl(req.url)
      key = requestKey(path, query, route.vary, h)
    } else if (typeof custom === 'string' && custom.length > 0) key = `${KEY_PREFIX}${custom}`
    else throw new InvalidOptionError('key', 'a function returning a non-empty string or undefined', custom)
    const inm = h['if-none-match']
    const ims = h['if-modified-since']
    const tags =
      overrides?.tags === undefined ? route.tags : checkTags([...route.tags, ...overrides.tags], 'tags')
    return {
      eligible: true,
      key,
      method: method as 'GET' | 'HEAD',
      ifNoneMatch: inm === undefined ? undefined : typeof inm === 'string' ? inm : inm.join(', '),
      ifModifiedSince: typeof ims === 'string' ? ims : undefined,
      headers: h,
      refresh,
      route,
      tags,
    }
  }

  /**
   * Answer an eligible request: from the cache, by waiting for a concurrent identical
   * request's handler run, or by running the handler (`producers.run`) once for everyone.
   * Never rejects: cache trouble fails open to running the handler (reported to `onError`).
   *
   * A response that names request headers in `Vary` is stored with their values; a request
   * whose values differ looks up (or fills) the variant's own key, `<key>~v<hash>`.
   */
  async lookup(plan: LookupPlan, producers: ResponseProducers): Promise<CacheOutcome> {
    const run: RunState = {
      started: Date.now(),
      live: undefined,
      own: undefined,
      produced: undefined,
      ranForeground: false,
    }
    let key = plan.key
    let call = plan.refresh ? plan.route.refreshCall : plan.route.call
    for (let hop = 0; hop < 3; hop++) {
      const a = await this.#attempt(plan, key, producers, call, run)
      const own = run.own
      const ownOutcome: CacheOutcome | undefined = own === undefined ? undefined : outcomeOwn(own)
      if (a.kind === 'failed') {
        if (run.live !== undefined) return outcomeOwn(own ?? (await run.live))
        return RUN
      }
      const { value } = a
      const isOwn = a.produced && own !== undefined
      if (passValues.has(value)) return isOwn && ownOutcome !== undefined ? ownOutcome : RUN
      if (!isStoredResponse(value)) {
        this.#fail(new InvalidKeyError(`The cache entry "${key}" is not a stored response; ignored.`, key))
        return ownOutcome ?? RUN
      }
      if (value.vary !== undefined && !varyMatches(value.vary, plan.headers)) {
        // Another variant (stored, or produced by the request this one waited for).
        if (ownOutcome !== undefined) return ownOutcome
        const next = variantKey(plan.key, Object.keys(value.vary), plan.headers)
        if (next === key) return RUN
        key = next
        continue
      }
      if (uncachedValues.has(value)) {
        // Not storable (status), but the same for every request: shared with coalesced waiters.
        if (isOwn && ownOutcome !== undefined) return ownOutcome
        return this.#respond(value, plan, 'MISS', false, own !== undefined, false)
      }
      const now = Date.now()
      const source = sourceOf(a)
      if (source === 'stale' && now >= value.freshUntil) {
        // The response limits how long it may be served stale (stale-while-revalidate,
        // stale-if-error, must-revalidate): past that, the client gets a fresh response.
        if (a.ranForeground) {
          if (value.sieUntil !== undefined && now >= value.sieUntil) return ownOutcome ?? RUN
        } else if (value.swrUntil !== undefined && now >= value.swrUntil) {
          if (call === plan.route.refreshCall) return ownOutcome ?? RUN // another process holds the lock
          call = plan.route.refreshCall // wait for the refresh instead
          continue
        }
      }
      const x: Exclude<XCacheStatus, 'BYPASS'> =
        source === 'loader' || source === 'waited' ? 'MISS' : source === 'stale' ? 'STALE' : 'HIT'
      return this.#respond(value, plan, x, isOwn, own !== undefined, true)
    }
    return run.own === undefined ? RUN : outcomeOwn(run.own)
  }

  /** One getOrSet of `key` on behalf of `plan`; the live handler (`run`) is used at most once per lookup. */
  async #attempt(
    plan: LookupPlan,
    key: string,
    producers: ResponseProducers,
    call: CallOptions,
    run: RunState,
  ): Promise<Attempt> {
    const loader: Loader<FlightValue> = async (ctx) => {
      let background = ctx.background
      const stale = ctx.stale
      if (
        background &&
        isStoredResponse(stale) &&
        stale.swrUntil !== undefined &&
        Date.now() >= stale.swrUntil
      ) {
        // Too stale to be served while refreshing: this request retries and waits for this run.
        background = false
      }
      if (!background) run.ranForeground = true
      if (!background && producers.run !== undefined && run.live === undefined) {
        run.live = producers.run(MISS_HEADERS).catch(() => STREAMED)
        const result = await run.live
        run.own = result
        const value = await this.#toValue(result, ctx, plan, key, false)
        run.produced = value
        return value
      }
      const result = await this.#detached(producers.refresh)
      const value = await this.#toValue(result, ctx, plan, key, background)
      if (!background) run.produced = value
      return value
    }
    if (plan.refresh) {
      // Mark the entry stale (its copy stays as a fallback), then load without revalidation.
      await this.entries.expire(key).catch((err: unknown) => this.#fail(err))
    }
    try {
      const { value, source } = await this.entries.getOrSetResult(key, loader, call)
      return {
        kind: 'value',
        value,
        produced: run.produced !== undefined && value === run.produced,
        ranForeground: run.ranForeground,
        source,
      }
    } catch (err) {
      if (!(err instanceof HttpHandlerError)) this.#fail(err)
      return { kind: 'failed' }
    }
  }

  /** Remove responses by tag, path or custom key (every Vary variant included). */
  async invalidate(target: InvalidateTarget): Promise<void> {
    if (typeof target !== 'object' || target === null) {
      throw new InvalidOptionError('target', '{ tags?, paths?, keys? }', target)
    }
    const tags = toList(target.tags, 'tags')
    const paths = toList(target.paths, 'paths')
    const keys = toList(target.keys, 'keys')
    const work: Promise<unknown>[] = []
    if (tags.length > 0) work.push(this.entries.invalidateTags(tags))
    const exact = keys.map((k) => `${KEY_PREFIX}${k}`)
    // Vary variants of a custom key: one SCAN per key.
    for (const k of exact) work.push(this.entries.invalidatePattern(`${globEscape(k)}${VARIANT}*`))
    for (const p of paths) {
      const { exact: e, pattern } = pathPatterns(p)
      exact.push(e)
      work.push(this.entries.invalidatePattern(pattern))
    }
    if (exact.length > 0) work.push(this.entries.delete(exact))
    await Promise.all(work)
  }

  #respond(
    value: StoredResponse,
    plan: LookupPlan,
    xCache: Exclude<XCacheStatus, 'BYPASS'>,
    own: boolean,
    handlerRan: boolean,
    conditional: boolean,
  ): CacheOutcome {
    const notModified =
      conditional && value.status >= 200 && value.status < 300 && notModifiedFor(plan, value)
    const headers: Record<string, string> = {}
    if (own) {
      if (value.etag !== '') headers.etag = value.etag
    } else {
      for (const [name, v] of Object.entries(value.headers)) headers[name] = v
      if (!notModified) headers['content-length'] = String(value.body.byteLength)
    }
    if (notModified) {
      for (const name of Object.keys(headers)) if (!NOT_MODIFIED_HEADERS.has(name)) delete headers[name]
    }
    headers['x-cache'] = xCache
    headers.age = own ? '0' : String(Math.max(0, Math.floor((Date.now() - value.storedAt) / 1000)))
    let removeHeaders: readonly string[] = EMPTY
    if (notModified) removeHeaders = BODY_HEADERS
    else if (!own && handlerRan) removeHeaders = this.#replaced
    return {
      kind: 'response',
      xCache,
      response: value,
      own,
      notModified,
      status: notModified ? 304 : value.status,
      headers,
      removeHeaders,
    }
  }

  /** Run a refresh no client waits on, bounded by refreshTimeout. */
  async #detached(refresh: ResponseProducers['refresh']): Promise<HandlerResult> {
    const ac = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<HandlerResult>((resolve) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`refresh exceeded refreshTimeout (${this.#refreshTimeout} ms)`))
        resolve(STREAMED)
      }, this.#refreshTimeout)
    })
    try {
      return await Promise.race([
        refresh(ac.signal).catch((err: unknown) => {
          this.#fail(err)
          return STREAMED
        }),
        timeout,
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Turn a handler's output into the value getOrSet resolves with (and maybe stores under `key`). */
  async #toValue(
    result: HandlerResult,
    ctx: LoaderContext<FlightValue>,
    plan: LookupPlan,
    key: string,
    background: boolean,
  ): Promise<FlightValue> {
    const stale = isStoredResponse(ctx.stale) && !uncachedValues.has(ctx.stale) ? ctx.stale : undefined
    const now = Date.now()
    // stale-if-error: only while the stale copy allows it.
    const staleOnError = stale !== undefined && (stale.sieUntil === undefined || now < stale.sieUntil)
    if (result.kind === 'streamed') {
      if (background && staleOnError) throw new HttpHandlerError(key, undefined, 'streamed or abandoned')
      ctx.skip()
      return this.#pass('streamed')
    }
    const { status, headers } = result
    const body = Buffer.isBuffer(result.body)
      ? result.body
      : Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength)
    if ((status >= 500 || status === 429) && staleOnError) throw new HttpHandlerError(key, status, 'status')
    const route = plan.route
    const policy = responsePolicy(status, headers, body.byteLength, route, now)
    const reason = policy.reason
    if (reason !== undefined) {
      ctx.skip()
      if (background) {
        // The route stopped producing a cacheable response: stop serving the old copy.
        await this.entries.delete(key).catch((err: unknown) => this.#fail(err))
      }
      if (reason !== 'status') return this.#pass(reason)
    }
    const safe: Record<string, string> = {}
    for (const name of this.#stored) {
      const v = responseHeader(headers, name)
      if (v !== undefined) safe[name] = v
    }
    let etag = safe.etag ?? ''
    if (etag === '' && reason === undefined) {
      etag = computeEtag(body)
      safe.etag = etag
    }
    const vary = policy.vary.length > 0 ? varySnapshot(policy.vary, plan.headers) : undefined
    if (reason === 'status') {
      const shared: StoredResponse = {
        status,
        headers: safe,
        body,
        etag,
        storedAt: now,
        freshUntil: now,
        ...(vary === undefined ? {} : { vary }),
      }
      uncachedValues.add(shared)
      return shared
    }
    const ttl =
      route.jitter > 0 && !policy.explicit
        ? Math.max(1, Math.round(policy.ttl * (1 + route.jitter * (2 * Math.random() - 1))))
        : policy.ttl
    ctx.setTtl(ttl)
    if (plan.tags.length > 0) ctx.setTags(plan.tags)
    const freshUntil = now + ttl
    return {
      status,
      headers: safe,
      body,
      etag,
      storedAt: now,
      freshUntil,
      ...(policy.staleWhileRevalidate === undefined
        ? {}
        : { swrUntil: freshUntil + policy.staleWhileRevalidate }),
      ...(policy.staleIfError === undefined ? {} : { sieUntil: freshUntil + policy.staleIfError }),
      ...(vary === undefined ? {} : { vary }),
    }
  }

  #pass(reason: UncacheableReason): PassValue {
    const v: PassValue = { pass: reason }
    passValues.add(v)
    return v
  }

  #fail(err: unknown): void {
    try {
      this.#onError?.(err)
    } catch {
      // A throwing onError must not break a request.
    }
  }
}

/** A framework-neutral response cache over `cache` (see ResponseCache). Throws E_INVALID_OPTION. */
export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  return new ResponseCache(options)
}

/**
 * Invalidate cached responses of `cache` without a ResponseCache at hand (the Express
 * `invalidate()` helper): by tag, by path (every query and vary variant), or by custom key.
 */
export function invalidateResponses(
  cache: Cache,
  target: InvalidateTarget,
  options: { namespace?: string } = {},
): Promise<void> {
  return new ResponseCache({
    cache,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
  }).invalidate(target)
}
