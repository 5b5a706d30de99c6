export type { EntryInfo, GetOptions } from './cache'
export { Cache, createCache } from './cache'
export type {
  AsyncMethod,
  AsyncMethodDecorator,
  CachedOptions,
  CacheSource,
  InvalidatesOptions,
  InvalidationTarget,
} from './decorators'
export { cached, invalidates, methodKey, stableHash } from './decorators'
export type { Duration } from './duration'
export { toMs } from './duration'
export type { Entry } from './entry/envelope'
export { decodeEntry, encodeEntry } from './entry/envelope'
export type { CacheErrorOptions, ErrorCode } from './errors'
export {
  BusMessageRejectedError,
  CacheClosedError,
  CacheError,
  CircuitOpenError,
  DecodeError,
  errors,
  InvalidKeyError,
  InvalidOptionError,
  isCacheError,
  LoaderTimeoutError,
  LockTimeoutError,
  SerializationError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
  WriteSkippedError,
} from './errors'
export { Keyspace, keySlot } from './keys'
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
  ResolvedCacheOptions,
  ResolvedCallOptions,
  TimeoutOptions,
  TopologyOptions,
  WriteGuardOptions,
} from './options'
export { DEFAULT_CALL_OPTIONS, resolveCacheOptions, resolveCallOptions } from './options'
export type { TopologyEventName, TopologyMonitorOptions } from './topology/monitor'
export { degradedReasons, TopologyMonitor } from './topology/monitor'
export type { WriteGuardStats } from './topology/write-guard'
export { WriteGuard } from './topology/write-guard'
export type { CacheTraceContext } from './tracing'
export { cacheTrace } from './tracing'
export type {
  CacheEventName,
  CacheEvents,
  CacheListener,
  Loader,
  LoaderContext,
  Tier,
  TopologyNode,
  TopologySnapshot,
} from './types'
