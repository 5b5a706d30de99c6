import {
  type CacheOutcome,
  createResponseCache,
  type HandlerResult,
  hideConditionalHeaders,
  InvalidOptionError,
  isRefreshRequest,
  type ResponseCacheOptions,
  refreshTimeoutMs,
} from '@herdless/core'
import { dispatchRefresh, ResponseCapture } from '@herdless/core/http/node'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { refreshSource } from './refresh-request'
import type { CacheResponsesOptions, HerdlessRequestState } from './types'

function setHeaders(res: Response, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
}

/**
 * Response caching middleware for Express 4 and 5. GET and HEAD are answered from the cache
 * (HEAD from the GET entry); concurrent identical requests run the handler once, across every
 * process sharing the cache; a stale response is served at once while one request refreshes
 * it, and when the handler fails. Responses carry `X-Cache` and `Age`; `If-None-Match` gets 304.
 *
 * ```ts
 * app.get('/products', cacheResponses({ cache, ttl: '30s', tags: ['products'] }), listProducts)
 * ```
 */
export function cacheResponses(options: CacheResponsesOptions): RequestHandler {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least { cache }', options)
  }
  const { key, tags, ...rest } = options
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError('key', 'a function (req) => string | undefined', key)
  }
  if (tags !== undefined && typeof tags !== 'function' && !Array.isArray(tags)) {
    throw new InvalidOptionError('tags', 'an array of strings or a function (req) => string[]', tags)
  }
  const core: ResponseCacheOptions = { ...rest }
  if (Array.isArray(tags)) core.tags = tags
  const rc = createResponseCache(core)
  const cache = options.cache
  const tagsOf = typeof tags === 'function' ? tags : undefined
  const abandonAfterCloseMs = refreshTimeoutMs(options.refreshTimeout)
  const invalidate: HerdlessRequestState['invalidate'] = (target) => rc.invalidate(target)

  return function herdlessCacheResponses(req: Request, res: Response, next: NextFunction): void {
    const state: HerdlessRequestState = { cache, key: undefined, xCache: undefined, invalidate }
    if (isRefreshRequest(req)) {
      // A refresh run this middleware dispatched: run the handler, its output is captured.
      req.herdless = state
      next()
      return
    }
    let plan: ReturnType<typeof rc.plan>
    try {
      plan = rc.plan(
        { method: req.method, url: req.originalUrl, headers: req.headers },
        { key: key?.(req), tags: tagsOf?.(req) },
      )
    } catch (err) {
      next(err)
      return
    }
    if (!plan.eligible) {
      state.xCache = 'BYPASS'
      req.herdless = state
      setHeaders(res, plan.headers)
      next()
      return
    }
    const lookupPlan = plan
    req.herdless = { ...state, key: plan.key }
    const herdless = req.herdless
    const source = refreshSource(req)
    const maxBodyBytes = plan.route.maxBodyBytes
    let capture: ResponseCapture | undefined

    const run = (headers: Readonly<Record<string, string>>): Promise<HandlerResult> => {
      const c = new ResponseCapture(res, { live: true, maxBodyBytes, abandonAfterCloseMs })
      capture = c
      c.install()
      herdless.xCache = 'MISS'
      setHeaders(res, headers)
      // Express answers validators itself (res.send checks req.fresh): hidden until captured.
      void c.result.then(hideConditionalHeaders(req.headers))
      next()
      return c.result
    }

    const deliver = (outcome: CacheOutcome): void => {
      switch (outcome.kind) {
        case 'run':
          herdless.xCache = outcome.xCache
          if (!res.headersSent) setHeaders(res, outcome.headers)
          next()
          return
        case 'own':
          // Not stored: the handler's response as it made it (a stream is already on its way).
          if (outcome.result.kind === 'captured' && capture !== undefined) {
            capture.send(res.statusCode, {}, [], capture.body)
          }
          return
        case 'response': {
          herdless.xCache = outcome.xCache
          const body = req.method === 'HEAD' ? undefined : outcome.response.body
          if (capture !== undefined) {
            capture.send(
              outcome.status,
              outcome.headers,
              outcome.removeHeaders,
              outcome.own ? capture.body : body,
            )
            return
          }
          if (res.headersSent) return
          for (const name of outcome.removeHeaders) res.removeHeader(name)
          setHeaders(res, outcome.headers)
          res.statusCode = outcome.status
          res.end(outcome.notModified ? undefined : body)
          return
        }
      }
    }

    rc.lookup(lookupPlan, {
      run: lookupPlan.method === 'GET' ? run : undefined,
      refresh: (signal) => dispatchRefresh(source, maxBodyBytes, signal),
    })
      .then(deliver)
      .catch((err: unknown) => {
        options.onError?.(err)
        if (capture === undefined && !res.headersSent) next(err)
      })
  }
}
