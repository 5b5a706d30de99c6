import type { Cache, CacheOptions, ResponseCacheOptions, RouteCacheOptions } from '@herdless/core'
import type { FastifyRequest } from 'fastify'

/** A route's `config.cache`: `true` for the plugin's defaults, or options of its own. */
export type RouteCacheConfig =
  | boolean
  | (Omit<RouteCacheOptions, 'tags'> & {
      /** Tags for the stored responses: fixed, or computed from the request. */
      tags?: readonly string[] | ((request: FastifyRequest) => readonly string[])
    })

/** Defaults for every cached route, and the response cache's own settings. */
export interface HttpCacheDefaults extends Omit<ResponseCacheOptions, 'cache' | 'key' | 'tags'> {
  /** Replace the default key (method + normalized URL + vary headers); undefined keeps the default. */
  key?: (request: FastifyRequest) => string | undefined
  /** Tags added to every cached route's responses. */
  tags?: readonly string[]
}

/**
 * `app.register(herdless, { cache })` uses a cache you created (and close); or pass core
 * options (`redis`, `prefix`, `ttl`, `l1`...) and the plugin creates one and closes it with
 * Fastify. `http` holds defaults for cached routes.
 */
export interface HerdlessFastifyOptions extends CacheOptions {
  /** A cache from createCache(). The plugin never closes it. */
  cache?: Cache
  /** Defaults for routes with `config: { cache }` (ttl defaults to the top-level ttl, then '5m'). */
  http?: HttpCacheDefaults
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Herdless cache (from @herdless/fastify). */
    cache: Cache
  }
  interface FastifyContextConfig {
    /** Cache this route's GET/HEAD responses (@herdless/fastify). */
    cache?: RouteCacheConfig
  }
}
