import { randomBytes, timingSafeEqual } from 'node:crypto'
import { type Cache, createCache } from '../cache'
import { type Duration, toMs } from '../duration'
import { InvalidOptionError } from '../errors'
import type { CacheOptions } from '../options'
import { refreshRequestHeaders } from './headers'
import { DEFAULT_REFRESH_TIMEOUT } from './options'
import type { HandlerResult, HttpRequestHeaders, HttpResponseHeaders } from './types'

/**
 * The pieces every web adapter needs besides `ResponseCache`, written once (docs/adapters.md
 * says how an adapter uses them).
 */

/** A handler output that could not be captured (a stream, an abandoned or failed run). */
export const STREAMED: HandlerResult = Object.freeze({ kind: 'streamed' })

/** Headers to set on a response the cache does not look up. */
export const BYPASS_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'x-cache': 'BYPASS' })

/** Headers to set on a response this request's handler produces (before the handler runs). */
export const MISS_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'x-cache': 'MISS' })

/**
 * `refreshTimeout` in ms (default 30 s): how long a refresh run may take, and how long a
 * handler whose client went away may still fill the entry. Throws E_INVALID_OPTION.
 */
export function refreshTimeoutMs(value: Duration | undefined, option = 'refreshTimeout'): number {
  return value === undefined ? DEFAULT_REFRESH_TIMEOUT : toMs(value, option)
}

function isCache(value: unknown): value is Cache {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Cache).getOrSet === 'function' &&
    typeof (value as Cache).close === 'function'
  )
}

/** A cache an adapter uses, and whether it created it (then it, and only then, closes it). */
export interface AdapterCache {
  /** The cache the adapter uses. */
  readonly cache: Cache
  /** True when the adapter created it (and so closes it). */
  readonly owned: boolean
  /** Close the cache if the adapter created it; a cache passed in is left open. */
  close(): Promise<void>
}

/**
 * The close policy of every adapter: a `cache` passed in is the application's (never closed,
 * and no other cache option may sit beside it); otherwise the adapter creates one from
 * `options` and closes it on shutdown. `where` prefixes option names in errors.
 */
export function adapterCache(given: unknown, options: CacheOptions, where = ''): AdapterCache {
  if (given === undefined) {
    const cache = createCache(options)
    return { cache, owned: true, close: () => cache.close() }
  }
  if (!isCache(given)) throw new InvalidOptionError(`${where}cache`, 'a cache from createCache()', given)
  const extra = Object.keys(options)[0]
  if (extra !== undefined) {
    throw new InvalidOptionError(
      `${where}${extra}`,
      'absent when `cache` is given (configure the cache you pass)',
      (options as Record<string, unknown>)[extra],
    )
  }
  return { cache: given, owned: false, close: () => Promise.resolve() }
}

/**
 * Marks the requests an adapter dispatches itself for a refresh run (so they run the handler
 * instead of looking the cache up), by a header with a per-instance secret: a client that sends
 * the header is not believed. In-memory dispatch may use `REFRESH_REQUEST` instead.
 */
export interface RefreshMarker {
  /** The header name. */
  readonly header: string
  /** The headers to add to a refresh request. */
  readonly headers: Readonly<Record<string, string>>
  /** Removes the header from `headers` (always) and says whether it carried this instance's secret. */
  take(headers: Record<string, unknown>): boolean
}

/** The header an adapter's refresh marker travels in (stripped before the handler sees it). */
export const REFRESH_HEADER = 'x-herdless-refresh'

/** A symbol an adapter sets on an in-memory request it dispatches for a refresh run. */
export const REFRESH_REQUEST: unique symbol = Symbol.for('herdless.http.refresh')

/** A marker with a per-process secret that tells the adapter's own refresh requests from clients' requests. */
export function createRefreshMarker(): RefreshMarker {
  const secret = randomBytes(24).toString('base64url')
  const secretBytes = Buffer.from(secret)
  return {
    header: REFRESH_HEADER,
    headers: Object.freeze({ [REFRESH_HEADER]: secret }),
    take(headers) {
      const mark = headers[REFRESH_HEADER]
      if (mark === undefined) return false
      delete headers[REFRESH_HEADER]
      if (typeof mark !== 'string') return false
      const b = Buffer.from(mark)
      return b.length === secretBytes.length && timingSafeEqual(b, secretBytes)
    },
  }
}

/** What `injectRefresh` needs of an app that injects requests (Fastify's `inject`). */
export interface RefreshInjector {
  /** Run a request through the app in memory and resolve to its complete response. */
  inject(options: {
    method: 'GET'
    url: string
    headers: Record<string, string | string[]>
    remoteAddress?: string
    signal?: AbortSignal
  }): Promise<InjectedResponse>
}

/** The part of an injected request's response a refresh stores. */
export interface InjectedResponse {
  /** The status the handler sent. */
  statusCode: number
  /** The response headers, as the app sent them. */
  headers: Record<string, unknown>
  /** The body bytes. */
  rawPayload: Buffer
}

/**
 * A refresh run through an app's `inject` (Fastify, light-my-request): a GET copy of the request
 * (validators and body framing dropped) carrying the marker's secret header, so the app's hooks
 * run and the adapter recognises it; the response is captured as the handler sent it.
 */
export async function injectRefresh(
  app: RefreshInjector,
  marker: RefreshMarker,
  request: { url: string; headers: HttpRequestHeaders; remoteAddress?: string | undefined },
  signal: AbortSignal,
): Promise<HandlerResult> {
  const res = await app.inject({
    method: 'GET',
    url: request.url,
    headers: { ...refreshRequestHeaders(request.headers, marker.header), ...marker.headers },
    ...(request.remoteAddress === undefined ? {} : { remoteAddress: request.remoteAddress }),
    signal,
  })
  return {
    kind: 'captured',
    status: res.statusCode,
    headers: res.headers as HttpResponseHeaders,
    body: res.rawPayload,
  }
}

/** True for a request object marked with REFRESH_REQUEST. */
export function isRefreshRequest(req: object): boolean {
  return (req as Record<symbol, unknown>)[REFRESH_REQUEST] === true
}

/** The request validators the handler run for the cache must not see (docs/adapters.md rule 5). */
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since'] as const

type WebHeaders = {
  get(name: string): string | null
  set(name: string, value: string): void
  delete(name: string): void
}
type HeaderRecord = Record<string, string | readonly string[] | undefined>

function isWebHeaders(headers: WebHeaders | HeaderRecord): headers is WebHeaders {
  return (
    typeof headers.get === 'function' &&
    typeof headers.set === 'function' &&
    typeof headers.delete === 'function'
  )
}

/**
 * Hides `If-None-Match` and `If-Modified-Since` from the handler run that fills the cache
 * (docs/adapters.md rule 5): a framework or handler that answered 304 would leave no body to
 * store, and core answers the conditional request itself. `headers` is changed in place: a
 * Node-style record (`req.headers` of node:http, Express, Fastify) or a web `Headers`
 * (`c.req.raw.headers` in Hono).
 *
 * Returns the function that puts the hidden values back as they were (a repeated header's list
 * stays the same list; a header that was absent is not added). Calling it again does nothing.
 *
 * ```ts
 * const restore = hideConditionalHeaders(req.headers)
 * try {
 *   return await runAndCapture()
 * } finally {
 *   restore()
 * }
 * ```
 */
export function hideConditionalHeaders(
  headers:
    | Record<string, string | readonly string[] | undefined>
    | {
        get(name: string): string | null
        set(name: string, value: string): void
        delete(name: string): void
      },
): () => void {
  const hidden: [string, string | readonly string[]][] = []
  const web = isWebHeaders(headers)
  for (const name of CONDITIONAL_HEADERS) {
    const value = web ? (headers.get(name) ?? undefined) : headers[name]
    if (value === undefined) continue
    hidden.push([name, value])
    if (web) headers.delete(name)
    else delete headers[name]
  }
  return () => {
    for (const [name, value] of hidden.splice(0)) {
      if (web) headers.set(name, value as string)
      else headers[name] = value
    }
  }
}
