export type { EntryInfo, GetOptions } from './cache'
export { Cache, createCache } from './cache'
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
} from './options'
export { DEFAULT_CALL_OPTIONS, resolveCacheOptions, resolveCallOptions } from './options'
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
