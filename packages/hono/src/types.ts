import type { Cache, Duration, RouteCacheOptions } from '@herdless/core'
import type { Context } from 'hono'

/** The part of a Hono app a refresh run needs: its `fetch`. */
export interface FetchApp {
  /** Answer a request (Hono's `app.fetch`). */
  fetch(request: Request): Response | Promise<Response>
}

/** Options of `cacheResponses()`: core's route options plus what Hono needs. */
export interface HonoCacheOptions extends Omit<RouteCacheOptions, 'tags'> {
  /** The cache responses are stored in (from `createCache()`). */
  cache: Cache
  /** The app, so a background refresh can run a copy of the request through it (`app.fetch`). */
  app: FetchApp
  /** Tags for the stored responses: fixed, or computed from the context. */
  tags?: readonly string[] | ((c: Context) => readonly string[])
  /** Replace the default key (method + normalized URL + vary headers). */
  key?: (c: Context) => string | undefined
  /** Put response entries in `cache.namespace(name)`. */
  namespace?: string
  /** Extra response headers to store besides the default set. */
  headers?: readonly string[]
  /** A refresh run is abandoned after this. @default '30s' */
  refreshTimeout?: Duration
  /** Errors the middleware absorbed (it failed open and ran the handler). */
  onError?: (error: unknown) => void
}
