/**
 * NestJS module: `HerdlessModule`, `@Cacheable` / `@CacheInvalidate`, and `HttpCacheInterceptor`.
 *
 * @module @herdless/nestjs
 */
export { CacheExplorer } from './cache-explorer'
export type { AsyncMethodDecorator } from './cacheable'
export { BOUND_CACHE, Cacheable, CacheInvalidate, CacheNotWiredError } from './cacheable'
export {
  CACHE_INVALIDATE_METADATA,
  CACHE_TTL_METADATA,
  CACHEABLE_METADATA,
  HERDLESS_CACHE,
  HERDLESS_RESPONSE_CACHE,
  HTTP_CACHE_METADATA,
  NO_CACHE_METADATA,
} from './constants'
export { HerdlessModule } from './herdless-module'
export { CacheTTL, HttpCache, HttpCacheInterceptor, NoCache } from './http-cache-interceptor'
export { InjectCache, InjectResponseCache } from './inject-cache'
export type { HerdlessModuleAsyncOptions, HerdlessModuleForRootOptions } from './module-definition'
export { HERDLESS_MODULE_OPTIONS } from './module-definition'
export type {
  CacheableOptions,
  CacheInvalidateOptions,
  HerdlessModuleOptions,
  HttpCacheInterceptorOptions,
} from './types'
