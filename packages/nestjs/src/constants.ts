/**
 * Injection token of the core `Cache` HerdlessModule provides. `@InjectCache()` is
 * `@Inject(HERDLESS_CACHE)`; the `Cache` class itself is an alias token too.
 */
export const HERDLESS_CACHE = Symbol.for('herdless.nestjs.cache')

/**
 * Injection token of the core `ResponseCache` (HTTP response caching) the module provides:
 * inject it to invalidate cached responses by tag or path (`responses.invalidate({ paths })`).
 */
export const HERDLESS_RESPONSE_CACHE = Symbol.for('herdless.nestjs.response-cache')

/** Reflect metadata on a method decorated with `@Cacheable` (its options). */
export const CACHEABLE_METADATA = 'herdless:cacheable'
/** Reflect metadata on a method decorated with `@CacheInvalidate` (its options). */
export const CACHE_INVALIDATE_METADATA = 'herdless:cache-invalidate'
/** Route metadata: @HttpCache(options). */
export const HTTP_CACHE_METADATA = 'herdless:http-cache'
/** Route metadata: @CacheTTL(ttl). */
export const CACHE_TTL_METADATA = 'herdless:cache-ttl'
/** Route metadata: @NoCache(). */
export const NO_CACHE_METADATA = 'herdless:no-cache'
