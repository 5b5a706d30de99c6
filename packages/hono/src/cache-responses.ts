import {
  type CacheOutcome,
  createRefreshMarker,
  createResponseCache,
  type HandlerResult,
  hideConditionalHeaders,
  InvalidOptionError,
  type ResponseCacheOptions,
  refreshRequestHeaders,
  STREAMED,
} from '@herdless/core'
import type { Context, MiddlewareHandler } from 'hono'
import type { HonoCacheOptions } from './types'

/** A web Response as core's HandlerResult: buffered unless it is an event stream or too large. */
async function capture(res: Response, maxBodyBytes: number): Promise<HandlerResult> {
  const type = res.headers.get('content-type') ?? ''
  const length = Number(res.headers.get('content-length') ?? 0)
  if (type.startsWith('text/event-stream') || length > maxBodyBytes) return STREAMED
  const body = new Uint8Array(await res.clone().arrayBuffer())
  if (body.byteLength > maxBodyBytes) return STREAMED
  const headers: Record<string, string | string[]> = {}
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = res.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  return { kind: 'captured', status: res.status, headers, body }
}

function withHeaders(
  res: Response,
  headers: Readonly<Record<string, string>>,
  remove: readonly string[] = [],
): Response {
  const h = new Headers(res.headers)
  for (const name of remove) h.delete(name)
  for (const [name, value] of Object.entries(headers)) h.set(name, value)
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h })
}

/**
 * Response caching middleware for Hono on `@herdless/core`: the same rules as the Express,
 * Fastify and Nest adapters (RFC 9111 freshness, Vary, cookie policy, X-Cache, stale handling).
 *
 * ```ts
 * const app = new Hono()
 * app.get('/products', cacheResponses({ cache, app, ttl: '30s' }), (c) => c.json(list()))
 * ```
 */
export function cacheResponses(options: HonoCacheOptions): MiddlewareHandler {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least { cache, app }', options)
  }
  const { app, key, tags, ...rest } = options
  if (typeof app?.fetch !== 'function') throw new InvalidOptionError('app', 'the Hono app', app)
  const core: ResponseCacheOptions = { ...rest, tags: Array.isArray(tags) ? tags : undefined }
  const rc = createResponseCache(core)
  const tagsOf = typeof tags === 'function' ? tags : undefined
  // Refresh runs go through app.fetch (header parsing): marked by a per-instance secret header.
  const marker = createRefreshMarker()

  return async function herdlessHono(c: Context, next) {
    const headers: Record<string, string> = {}
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value
    })
    if (marker.take(headers)) {
      await next()
      return
    }
    const url = new URL(c.req.url)
    const plan = rc.plan(
      { method: c.req.method, url: url.pathname + url.search, headers },
      { key: key?.(c), tags: tagsOf?.(c) },
    )
    if (!plan.eligible) {
      await next()
      c.res = withHeaders(c.res, plan.headers)
      return
    }
    const maxBodyBytes = plan.route.maxBodyBytes
    let ran = false
    const run = async (): Promise<HandlerResult> => {
      ran = true
      // Validators are hidden from the run for the cache (core answers conditional requests).
      const restore = hideConditionalHeaders(c.req.raw.headers)
      try {
        await next()
      } catch {
        return STREAMED
      } finally {
        restore()
      }
      return c.error === undefined ? capture(c.res, maxBodyBytes) : STREAMED
    }
    const refresh = async (signal: AbortSignal): Promise<HandlerResult> => {
      const request = new Request(url, {
        headers: { ...refreshRequestHeaders(headers, marker.header), ...marker.headers },
        signal,
      })
      return capture(await app.fetch(request), maxBodyBytes)
    }
    const outcome: CacheOutcome = await rc.lookup(plan, {
      run: plan.method === 'GET' ? run : undefined,
      refresh,
    })
    switch (outcome.kind) {
      case 'run':
        await next()
        c.res = withHeaders(c.res, outcome.headers)
        return
      case 'own':
        if (ran) c.res = withHeaders(c.res, outcome.headers)
        return
      case 'response': {
        if (outcome.own && !outcome.notModified && ran) {
          c.res = withHeaders(c.res, outcome.headers, outcome.removeHeaders)
          return
        }
        const body = outcome.notModified || plan.method === 'HEAD' ? null : outcome.response.body
        c.res = new Response(body as ConstructorParameters<typeof Response>[0], {
          status: outcome.status,
          headers: outcome.headers,
        })
        return
      }
    }
  }
}
