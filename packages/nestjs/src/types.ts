import type {
  Cache,
  CachedOptions,
  CacheOptions,
  InvalidatesOptions,
  ResponseCacheOptions,
} from '@herdless/core'

/**
 * What HerdlessModule.forRoot() takes: every createCache() option (redis, prefix, ttl, l1,
 * bus, ...), or `cache`, a Cache you created yourself.
 */
export interface HerdlessModuleOptions extends CacheOptions {
  /**
   * Provide this cache instead of creating one. It is yours: the module never closes it.
   * Give no other cache option with it.
   */
  cache?: Cache
  /** Defaults for HttpCacheInterceptor. */
  http?: HttpCacheInterceptorOptions
}

/** `@Cacheable` options: a key function of the method's arguments, ttl, staleTtl, tags, ... */
export type CacheableOptions<Args extends unknown[] = unknown[]> = CachedOptions<Args>

/** `@CacheInvalidate` options: `keys` and/or `tags`, lists or functions of the arguments. */
export type CacheInvalidateOptions<Args extends unknown[] = unknown[]> = InvalidatesOptions<Args>

/**
 * Response caching defaults for HttpCacheInterceptor: core's ResponseCacheOptions without
 * `cache` (the module's cache is used). A route's `@HttpCache` / `@CacheTTL` win over them.
 * @example http: { ttl: '30s', vary: ['accept-language'], headers: ['x-total-count'] }
 */
export type HttpCacheInterceptorOptions = Omit<ResponseCacheOptions, 'cache'>
