import type { Socket } from 'node:net'
import {
  BYPASS_HEADERS,
  createRefreshMarker,
  type Duration,
  type HandlerResult,
  type HttpRequestInfo,
  hideConditionalHeaders,
  injectRefresh,
  isRefreshRequest,
  REFRESH_REQUEST,
  type RefreshInjector,
  type ResponseCache,
  type RouteCacheOptions,
  STREAMED,
  toMs,
} from '@herdless/core'
import { type Dispatch, dispatchRefresh } from '@herdless/core/http/node'
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
  Optional,
  SetMetadata,
} from '@nestjs/common'
import { HEADERS_METADATA, HTTP_CODE_METADATA } from '@nestjs/common/constants'
import { HttpAdapterHost, Reflector } from '@nestjs/core'
import { defer, lastValueFrom, type Observable } from 'rxjs'
import { captureResponse, type ResponseLike } from './capture-response'
import {
  CACHE_TTL_METADATA,
  HERDLESS_RESPONSE_CACHE,
  HTTP_CACHE_METADATA,
  NO_CACHE_METADATA,
} from './constants'

/** This route's response caching options (ttl, staleTtl, tags, vary, statuses, ...). */
export const HttpCache = (options: RouteCacheOptions) => SetMetadata(HTTP_CACHE_METADATA, options)

/** Fresh TTL of this route's cached responses (over `@HttpCache` and the module's `http.ttl`). */
export const CacheTTL = (ttl: Duration) => {
  toMs(ttl, '@CacheTTL(ttl)')
  return SetMetadata(CACHE_TTL_METADATA, ttl)
}

/** Never cache this route (or every route of this controller): GET and HEAD answer X-Cache: BYPASS. */
export const NoCache = () => SetMetadata(NO_CACHE_METADATA, true)

interface RequestLike {
  method: string
  url: string
  originalUrl?: string
  headers: HttpRequestInfo['headers']
  /** Express (node:http) */
  socket?: Socket & { encrypted?: boolean }
  /** Fastify */
  ip?: string
  raw?: object
}

type RefreshRun = (req: RequestLike, maxBodyBytes: number, signal: AbortSignal) => Promise<HandlerResult>

/**
 * Refresh requests go through `fastify.inject`, which parses headers: they carry this secret
 * header. One per process, so every interceptor instance (one per module) knows them.
 */
const marker = createRefreshMarker()

type Handler = ReturnType<ExecutionContext['getHandler']>
type Controller = ReturnType<ExecutionContext['getClass']>

interface RouteInfo {
  options: RouteCacheOptions | undefined
  status: number
  headers: Readonly<Record<string, string>>
}

/** Set the headers core decided (X-Cache...); a response object that cannot set headers is left alone. */
function setHeaders(res: unknown, headers: Readonly<Record<string, string>>): void {
  const r = res as {
    header?: (n: string, v: string) => unknown
    setHeader?: (n: string, v: string) => unknown
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof r.header === 'function') r.header(name, value)
    else r.setHeader?.(name, value)
  }
}

/**
 * Response caching for Nest routes, on core's framework-neutral `http/` ResponseCache (the
 * semantics of @herdless/express and @herdless/fastify): GET and HEAD, 200 by default; the key
 * is the method + normalized URL + `vary` headers; Set-Cookie, `Cache-Control: no-store|private`
 * and Authorization bypass; ETag + If-None-Match answer 304; `X-Cache: HIT|MISS|STALE|BYPASS`
 * and `Age`; concurrent identical requests run the handler once; a stale response is served
 * while one request refreshes it. A refresh (stale-while-revalidate, a HEAD miss) is a GET
 * copy of the request dispatched through the whole app (the Express app in memory, or
 * `fastify.inject`), so middleware, guards and pipes run for it and what the handler sends
 * (status, headers) is stored.
 *
 * `@UseInterceptors(HttpCacheInterceptor)` on a controller or route, or
 * `{ provide: APP_INTERCEPTOR, useClass: HttpCacheInterceptor }` for every route. Works on
 * platform-express and platform-fastify. A cached response is sent as a web `Response`
 * (status and headers included), which Nest 12 sends as it is.
 */
@Injectable()
export class HttpCacheInterceptor implements NestInterceptor {
  readonly #responses: ResponseCache
  readonly #reflector: Reflector
  readonly #adapterHost: HttpAdapterHost | undefined
  readonly #routes = new WeakMap<object, RouteInfo>()
  #refreshRun: RefreshRun | null | undefined

  // Explicit @Inject: this package is built with esbuild, which emits no design:paramtypes.
  constructor(
    @Inject(HERDLESS_RESPONSE_CACHE) responses: ResponseCache,
    @Inject(Reflector) reflector: Reflector,
    @Optional() @Inject(HttpAdapterHost) adapterHost?: HttpAdapterHost,
  ) {
    this.#responses = responses
    this.#reflector = reflector
    this.#adapterHost = adapterHost
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle()
    const http = context.switchToHttp()
    const req = http.getRequest<RequestLike>()
    // A refresh run this interceptor dispatched: the handler runs, its response is captured.
    if (isRefresh(req)) return next.handle()
    const res = http.getResponse<ResponseLike>()
    const method = req.method.toUpperCase()
    if (method !== 'GET' && method !== 'HEAD') {
      // Never cached, and said so like every adapter does (docs/adapters.md rule 2).
      setHeaders(res, BYPASS_HEADERS)
      return next.handle()
    }
    const handler = context.getHandler()
    const controller = context.getClass()
    if (this.#reflector.getAllAndOverride<boolean | undefined>(NO_CACHE_METADATA, [handler, controller])) {
      setHeaders(res, BYPASS_HEADERS)
      return next.handle()
    }
    const route = this.#route(handler, controller)
    const info: HttpRequestInfo = { method, url: req.originalUrl ?? req.url, headers: req.headers }
    const plan = this.#responses.plan(
      info,
      route.options === undefined ? undefined : { route: route.options },
    )
    if (!plan.eligible) {
      setHeaders(res, plan.headers)
      return next.handle()
    }
    return defer(async () => {
      let own: { value: unknown } | undefined
      let ownError: { error: unknown } | undefined
      const run = async (headers: Readonly<Record<string, string>>): Promise<HandlerResult> => {
        // X-Cache: MISS before the handler runs, so an exception's response carries it too.
        setHeaders(res, headers)
        // Validators are hidden from the run for the cache (core answers conditional requests).
        const restore = hideConditionalHeaders(req.headers)
        try {
          const value = await lastValueFrom(next.handle(), { defaultValue: undefined })
          own = { value }
          return captureResponse(value, res, route, true)
        } catch (error) {
          // An exception (a 404, a validation error) goes to Nest's filters below, uncached.
          ownError = { error }
          return STREAMED
        } finally {
          restore()
        }
      }
      const dispatched = this.#refreshRunner()
      const refresh = async (signal: AbortSignal): Promise<HandlerResult> => {
        // A GET copy of the request through the whole app (docs/adapters.md rule 6).
        if (dispatched !== null) return dispatched(req, plan.route.maxBodyBytes, signal)
        // No app to dispatch through (an HTTP adapter other than Express or Fastify): the
        // handler runs again with this request (a HEAD stays a HEAD), and the route's static
        // status and @Header values are stored.
        const restore = hideConditionalHeaders(req.headers)
        try {
          return captureResponse(
            await lastValueFrom(next.handle(), { defaultValue: undefined }),
            res,
            route,
            false,
          )
        } finally {
          restore()
        }
      }
      const outcome = await this.#responses.lookup(plan, {
        ...(plan.method === 'GET' ? { run } : {}),
        refresh,
      })

      if (outcome.kind === 'run') {
        setHeaders(res, outcome.headers)
        return lastValueFrom(next.handle(), { defaultValue: undefined })
      }
      if (outcome.kind === 'own') {
        if (ownError !== undefined) throw ownError.error
        setHeaders(res, outcome.headers)
        return own?.value
      }
      for (const name of outcome.removeHeaders) res.removeHeader?.(name)
      if (outcome.own && !outcome.notModified && own !== undefined) {
        // This request's own output: Nest sends it as usual, with the validators added.
        setHeaders(res, outcome.headers)
        return own.value
      }
      // A HEAD gets the body too: Nest sends a HEAD's web Response with no body but keeps its
      // Content-Length (the GET body's); a Response with a null body would be Content-Length: 0
      // on platform-fastify.
      const body = outcome.notModified ? null : outcome.response.body
      return new Response(body, { status: outcome.status, headers: outcome.headers })
    })
  }

  /** How this app runs a refresh: through the Express app or Fastify's inject; null: neither. */
  #refreshRunner(): RefreshRun | null {
    if (this.#refreshRun !== undefined) return this.#refreshRun
    const instance: unknown = this.#adapterHost?.httpAdapter?.getInstance()
    if (instance === undefined) return null // not listening yet: decide on a later request
    let run: RefreshRun | null = null
    if (typeof (instance as Partial<RefreshInjector>).inject === 'function') {
      // A GET copy through Fastify (its hooks, Nest's guards and pipes), captured.
      const fastify = instance as RefreshInjector
      run = (req, _maxBodyBytes, signal) =>
        injectRefresh(fastify, marker, { url: req.url, headers: req.headers, remoteAddress: req.ip }, signal)
    } else if (
      typeof instance === 'function' &&
      typeof (instance as { handle?: unknown }).handle === 'function'
    ) {
      const dispatch = instance as Dispatch
      run = (req, maxBodyBytes, signal) =>
        dispatchRefresh(
          {
            dispatch,
            url: req.originalUrl ?? req.url,
            headers: req.headers,
            remoteAddress: req.socket?.remoteAddress,
            encrypted: req.socket?.encrypted === true,
          },
          maxBodyBytes,
          signal,
        )
    }
    this.#refreshRun = run
    return run
  }

  /** The route's options (@HttpCache + @CacheTTL), status and static headers, read once per handler. */
  #route(handler: Handler, controller: Controller): RouteInfo {
    let info = this.#routes.get(handler)
    if (info !== undefined) return info
    const base = this.#reflector.getAllAndOverride<RouteCacheOptions | undefined>(HTTP_CACHE_METADATA, [
      handler,
      controller,
    ])
    const ttl = this.#reflector.getAllAndOverride<Duration | undefined>(CACHE_TTL_METADATA, [
      handler,
      controller,
    ])
    const options = ttl === undefined ? base : { ...base, ttl }
    // Validated now (E_INVALID_OPTION), then remembered by the ResponseCache per object.
    this.#responses.route(options)
    const headers: Record<string, string> = {}
    const declared = this.#reflector.get<Array<{ name: string; value: string }> | undefined>(
      HEADERS_METADATA,
      handler,
    )
    for (const h of declared ?? []) headers[h.name.toLowerCase()] = String(h.value)
    const status = this.#reflector.get<number | undefined>(HTTP_CODE_METADATA, handler) ?? 200
    info = { options, status, headers }
    this.#routes.set(handler, info)
    return info
  }
}

/** A refresh run: marked in memory (Express), or by the secret header (Fastify's inject). */
function isRefresh(req: RequestLike): boolean {
  if (isRefreshRequest(req)) return true
  if (!marker.take(req.headers)) return false
  // Seen once: later interceptors of the chain read the mark from the request object.
  Object.defineProperty(req, REFRESH_REQUEST, { value: true })
  return true
}
