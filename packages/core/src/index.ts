/**
 * The cache-aside engine: `createCache()`, `getOrSet`, stale fallbacks, stampede locks, L1 with an invalidation bus, Redis and Redis Cluster. Also the HTTP response-cache seam the adapters share.
 *
 * @module @herdless/core
 */
export type { EntryInfo, GetOptions } from './cache'
export { Cache, createCache } from './cache'
export type {
  AsyncMethod,
  AsyncMethodDecorator,
  CachedOptions,
  CacheSource,
  InvalidatesOptions,
  InvalidationTarget,
  KeyArgsFit,
} from './decorators'
export { cached, invalidates, methodKey, stableHash } from './decorators'
export type { Duration } from './duration'
export { MAX_TIMER_MS, MAX_TTL_MS, toMs } from './duration'
export type { CacheErrorOptions, ErrorCode } from './errors'
export {
  BatchLoaderError,
  CacheClosedError,
  CacheError,
  CircuitOpenError,
  ClusterNodeError,
  DecodeError,
  errors,
  InvalidKeyError,
  InvalidLoaderError,
  InvalidOptionError,
  InvalidValueError,
  isCacheError,
  LoaderTimeoutError,
  LockTimeoutError,
  SerializationError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
  WriteSkippedError,
} from './errors'
export type { AdapterCache, InjectedResponse, RefreshInjector, RefreshMarker } from './http/adapter'
export {
  adapterCache,
  BYPASS_HEADERS,
  createRefreshMarker,
  hideConditionalHeaders,
  injectRefresh,
  isRefreshRequest,
  MISS_HEADERS,
  REFRESH_HEADER,
  REFRESH_REQUEST,
  refreshTimeoutMs,
  STREAMED,
} from './http/adapter'
export type { ResponsePolicy } from './http/freshness'
export { responsePolicy } from './http/freshness'
export { HttpHandlerError } from './http/handler-error'
export { refreshRequestHeaders } from './http/headers'
export type { ResolvedRoute, ResponseCacheOptions, RouteCacheOptions } from './http/options'
export type {
  BypassPlan,
  CachePlan,
  CachePlanOverrides,
  InvalidateTarget,
  LookupPlan,
} from './http/response-cache'
export {
  createResponseCache,
  invalidateResponses,
  isStoredResponse,
  ResponseCache,
} from './http/response-cache'
export type {
  BypassReason,
  CacheOutcome,
  HandlerResult,
  HttpRequestHeaders,
  HttpRequestInfo,
  HttpResponseHeaders,
  ResponseProducers,
  StoredResponse,
  UncacheableReason,
  XCacheStatus,
} from './http/types'
export type { RedlockLockOptions } from './lock/redlock-lock'
export type { Logger } from './logger'
export type {
  BreakerOptions,
  BusOptions,
  CacheOptions,
  CallOptions,
  ClusterConfig,
  EarlyRefreshOptions,
  L1Options,
  LockOptions,
  RedisInput,
  TimeoutOptions,
  TopologyOptions,
  WriteGuardOptions,
} from './options'
export type { IoredisInstance, NodeRedisInstance } from './store/client'
export type { WriteGuardStats } from './topology/write-guard'
export type { CacheTraceContext } from './tracing'
export { cacheTrace } from './tracing'
export type {
  BusUnhealthyReason,
  CacheEventName,
  CacheEvents,
  CacheListener,
  CacheResult,
  Loader,
  LoaderContext,
  Tier,
  TopologyNode,
  TopologySnapshot,
  ValueSource,
} from './types'
