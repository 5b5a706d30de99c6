import type { Cache, Duration, InvalidateTarget, RouteCacheOptions, XCacheStatus } from '@herdless/core'
import type { Request } from 'express'

/** Options of `cacheResponses()`: one middleware per route, or one for the whole app. */
export interface CacheResponsesOptions extends Omit<RouteCacheOptions, 'tags'> {
  /** The cache responses are stored in (from `createCache()`). */
  cache: Cache
  /** Tags for the stored responses: fixed, or computed from the request. @example tags: (req) => [`product:${req.params.id}`] */
  tags?: readonly string[] | ((req: Request) => readonly string[])
  /** Replace the default key (method + normalized URL + vary headers); undefined keeps the default. */
  key?: (req: Request) => string | undefined
  /** Put response entries in `cache.namespace(name)`. @default the cache's own keyspace */
  namespace?: string
  /** Extra response headers to store besides the default set. @example headers: ['x-total-count'] */
  headers?: readonly string[]
  /**
   * A refresh run (stale-while-revalidate, HEAD miss) is abandoned after this; so is a handler
   * still running this long after its client went away. @default '30s'
   */
  refreshTimeout?: Duration
  /** Errors the middleware absorbed (it failed open and ran the handler). */
  onError?: (error: unknown) => void
}

/** What the middleware puts on `req.herdless`. */
export interface HerdlessRequestState {
  /** The cache the middleware uses: handlers may call `getOrSet` on it too. */
  readonly cache: Cache
  /** This request's response cache key, when it is eligible. */
  readonly key: string | undefined
  /** X-Cache of this request: MISS while the handler runs for the cache, BYPASS when not eligible. */
  xCache: XCacheStatus | undefined
  /** Invalidate cached responses by tag, path or key (the middleware's namespace). */
  invalidate(target: InvalidateTarget): Promise<void>
}

declare global {
  namespace Express {
    interface Request {
      /** Set by @herdless/express's cacheResponses() for every request it sees. */
      herdless?: HerdlessRequestState
    }
  }
}
