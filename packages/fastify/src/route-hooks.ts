import {
  type CacheOutcome,
  createRefreshMarker,
  type HandlerResult,
  hideConditionalHeaders,
  InvalidOptionError,
  injectRefresh,
  type ResponseCache,
  type RouteCacheOptions,
  STREAMED,
} from '@herdless/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RouteCacheConfig } from './types'

const EMPTY_BODY = Buffer.alloc(0)

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
}

function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {}
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Per request: served from the cache, a refresh run, or the leader whose handler fills the entry. */
type RequestState =
  | { kind: 'served' }
  | { kind: 'refresh' }
  | {
      kind: 'leader'
      captured: Deferred<HandlerResult>
      flight: Promise<CacheOutcome>
      /** onSend has handed the payload over. */
      done?: boolean
      timer?: NodeJS.Timeout
    }

const SERVED: RequestState = Object.freeze({ kind: 'served' })
const REFRESH: RequestState = Object.freeze({ kind: 'refresh' })

interface ResolvedConfig {
  route: RouteCacheOptions | undefined
  tags: ((request: FastifyRequest) => readonly string[]) | undefined
}

export interface RouteHooksOptions {
  key: ((request: FastifyRequest) => string | undefined) | undefined
  /** After a leader's client went away, how long its handler may still fill the entry. */
  abandonAfterCloseMs: number
}

/**
 * The two hooks that cache a route with `config.cache`: `preHandler` answers from the cache
 * or lets the handler run for everyone; `onSend` captures what the handler sent and swaps in
 * the cached decision. Hooks of other routes return at once.
 */
export function createRouteHooks(fastify: FastifyInstance, rc: ResponseCache, options: RouteHooksOptions) {
  // fastify.inject() goes through header parsing: the refresh mark is a per-instance secret header.
  const marker = createRefreshMarker()
  const states = new WeakMap<FastifyRequest, RequestState>()
  const configs = new WeakMap<object, ResolvedConfig>()
  const defaults: ResolvedConfig = { route: undefined, tags: undefined }

  /** Validate and remember a route's config (throws E_INVALID_OPTION at registration). */
  function configOf(cfg: RouteCacheConfig | undefined): ResolvedConfig {
    if (cfg === true || cfg === undefined || cfg === false) return defaults
    let r = configs.get(cfg)
    if (r !== undefined) return r
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
      throw new InvalidOptionError('config.cache', 'true or an object of route cache options', cfg)
    }
    const { tags, ...route } = cfg
    if (tags !== undefined && typeof tags !== 'function' && !Array.isArray(tags)) {
      throw new InvalidOptionError(
        'config.cache.tags',
        'an array of strings or a function (request) => string[]',
        tags,
      )
    }
    const layer: RouteCacheOptions = Array.isArray(tags) ? { ...route, tags } : route
    rc.route(layer)
    r = { route: layer, tags: typeof tags === 'function' ? tags : undefined }
    configs.set(cfg, r)
    return r
  }

  function refresh(request: FastifyRequest, signal: AbortSignal): Promise<HandlerResult> {
    return injectRefresh(
      fastify,
      marker,
      { url: request.url, headers: request.headers, remoteAddress: request.ip },
      signal,
    )
  }

  function send(request: FastifyRequest, reply: FastifyReply, outcome: CacheOutcome & { kind: 'response' }) {
    states.set(request, SERVED)
    for (const name of outcome.removeHeaders) reply.removeHeader(name)
    reply.headers(outcome.headers)
    reply.code(outcome.status)
    return reply.send(outcome.notModified ? undefined : asBuffer(outcome.response.body))
  }

  async function preHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    // Only this instance's secret marks a refresh; a client's copy of the header is dropped.
    if (marker.take(request.headers)) {
      states.set(request, REFRESH)
      return undefined
    }
    const raw = request.routeOptions.config.cache
    if (raw === undefined || raw === false) return undefined
    const cfg = configOf(raw)
    const plan = rc.plan(
      { method: request.method, url: request.url, headers: request.headers },
      { route: cfg.route, key: options.key?.(request), tags: cfg.tags?.(request) },
    )
    if (!plan.eligible) {
      reply.headers(plan.headers)
      return undefined
    }
    const started = deferred<Readonly<Record<string, string>>>()
    const captured = deferred<HandlerResult>()
    const flight = rc.lookup(plan, {
      run:
        plan.method === 'GET'
          ? (headers) => {
              started.resolve(headers)
              return captured.promise
            }
          : undefined,
      refresh: (signal) => refresh(request, signal),
    })
    const first = await Promise.race([
      flight,
      started.promise.then((headers) => ({ kind: 'leader' as const, headers })),
    ])
    if (first.kind === 'leader') {
      // This request runs the handler for everyone: onSend hands its output to the cache.
      const state: RequestState = { kind: 'leader', captured, flight }
      states.set(request, state)
      void captured.promise.then(hideConditionalHeaders(request.headers))
      reply.headers(first.headers)
      reply.raw.once('close', () => {
        if (state.done) return
        // Hijacked replies never reach onSend; a client that left may still get its handler
        // finished. Either way, stop holding the entry's lock eventually.
        state.timer = setTimeout(() => captured.resolve(STREAMED), options.abandonAfterCloseMs)
        state.timer.unref()
      })
      return undefined
    }
    if (first.kind === 'response') return send(request, reply, first)
    reply.headers(first.headers)
    return undefined
  }

  async function onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const state = states.get(request)
    if (state === undefined || state.kind !== 'leader') return payload
    let body: Buffer | undefined
    if (typeof payload === 'string') body = Buffer.from(payload)
    else if (Buffer.isBuffer(payload)) body = payload
    else if (payload === undefined || payload === null) body = EMPTY_BODY
    state.done = true
    if (body === undefined) {
      // A stream (or a web Response): it goes to the client as it comes, uncached.
      state.captured.resolve(STREAMED)
      return payload
    }
    state.captured.resolve({ kind: 'captured', status: reply.statusCode, headers: reply.getHeaders(), body })
    const outcome = await state.flight
    clearTimeout(state.timer)
    if (outcome.kind !== 'response') return payload
    for (const name of outcome.removeHeaders) reply.removeHeader(name)
    reply.headers(outcome.headers)
    reply.code(outcome.status)
    if (outcome.notModified) return null
    return outcome.own ? payload : asBuffer(outcome.response.body)
  }

  return { configOf, preHandler, onSend }
}
