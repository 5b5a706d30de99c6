/**
 * Every error Herdless raises or emits is a CacheError with a stable `code`. Codes are the
 * contract (log them, alert on them, switch on them); messages say what to change.
 */
const BRAND = Symbol.for('herdless.CacheError')

/** The stable code of every {@link CacheError}; one per error class. */
export type ErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_INVALID_KEY'
  | 'E_LOADER_TIMEOUT'
  | 'E_LOCK_TIMEOUT'
  | 'E_STORE_UNAVAILABLE'
  | 'E_STORE_TIMEOUT'
  | 'E_CIRCUIT_OPEN'
  | 'E_SERIALIZE'
  | 'E_DECODE'
  | 'E_VALUE_TOO_LARGE'
  | 'E_CLOSED'
  | 'E_WRITE_SKIPPED'
  | 'E_INVALID_LOADER'
  | 'E_INVALID_VALUE'
  | 'E_BATCH_LOADER'
  | 'E_CLUSTER_NODE'
  | 'E_HTTP_HANDLER'

/** What a {@link CacheError} carries besides its code and message. */
export interface CacheErrorOptions {
  /** The cache key the error is about, if any. */
  key?: string | undefined
  /** The underlying error (a Redis reply, a loader's rejection...), kept as `error.cause`. */
  cause?: unknown
}

/**
 * The base class of every Herdless error. Test with {@link isCacheError} (works across two
 * copies of the package) and switch on {@link CacheError.code}.
 */
export class CacheError extends Error {
  /** The stable code: log it, alert on it, switch on it. */
  readonly code: ErrorCode
  /** The cache key involved, when there is one. */
  readonly key: string | undefined
  /** @internal Marks Herdless errors for isCacheError() across package copies. */
  readonly [BRAND] = true

  constructor(code: ErrorCode, message: string, options: CacheErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.key = options.key
  }
}

/** A cache option has the wrong type or value. Thrown by createCache() and namespace(), never lazily. */
export class InvalidOptionError extends CacheError {
  /** The option's path, e.g. `lock.wait` or `bus.signingKey`. */
  readonly option: string
  constructor(option: string, expected: string, got: unknown) {
    super('E_INVALID_OPTION', `Option "${option}" must be ${expected}; got ${describe(got)}.`)
    this.option = option
  }
}

/** A key is empty, not a string, or longer than maxKeyLength. */
export class InvalidKeyError extends CacheError {
  constructor(message: string, key?: unknown) {
    super('E_INVALID_KEY', message, { key: typeof key === 'string' ? key.slice(0, 200) : undefined })
  }
}

/** The loader ran past timeouts.hard. Its AbortSignal has fired. */
export class LoaderTimeoutError extends CacheError {
  constructor(key: string, ms: number) {
    super(
      'E_LOADER_TIMEOUT',
      `Loader for "${key}" did not settle within timeouts.hard (${ms} ms). Raise timeouts.hard above the loader's p99, or make the loader honour ctx.signal.`,
      { key },
    )
  }
}

/** A waiter gave up on another process's lock after lock.wait, with lock.onTimeout = 'throw'. */
export class LockTimeoutError extends CacheError {
  constructor(key: string, ms: number) {
    super(
      'E_LOCK_TIMEOUT',
      `Waited ${ms} ms for another process to load "${key}". Set lock.wait above the loader's p99, or lock.onTimeout: 'load'.`,
      { key },
    )
  }
}

/** Redis could not be used (down, timing out, OOM, denied). Thrown only with failOpen: false; emitted otherwise. */
export class StoreUnavailableError extends CacheError {
  constructor(message: string, options: CacheErrorOptions = {}) {
    super('E_STORE_UNAVAILABLE', message, options)
  }
}

/** A single Redis command exceeded redisTimeout. */
export class StoreTimeoutError extends CacheError {
  constructor(command: string, ms: number, key?: string) {
    super('E_STORE_TIMEOUT', `Redis ${command} took longer than redisTimeout (${ms} ms).`, { key })
  }
}

/** The circuit breaker is open: Redis failed repeatedly and is not being waited on. */
export class CircuitOpenError extends CacheError {
  constructor(key?: string) {
    super('E_CIRCUIT_OPEN', 'Redis circuit breaker is open after repeated failures; serving without Redis.', {
      key,
    })
  }
}

/** A value cannot be encoded with msgpack (functions, symbols, circular structures...). */
export class SerializationError extends CacheError {
  constructor(key: string, cause: unknown) {
    super(
      'E_SERIALIZE',
      `Value for "${key}" cannot be encoded with msgpack; return plain data (objects, arrays, strings, numbers, Dates, Buffers).`,
      { key, cause },
    )
  }
}

/** Bytes read from Redis are not a Herdless entry. Read as a miss. */
export class DecodeError extends CacheError {
  constructor(key: string, reason: string, cause?: unknown) {
    super(
      'E_DECODE',
      `Entry "${key}" in Redis is not a valid Herdless envelope (${reason}); treated as a miss.`,
      {
        key,
        cause,
      },
    )
  }
}

/** An encoded value is larger than maxValueBytes. The caller still gets the value; it is not stored. */
export class ValueTooLargeError extends CacheError {
  /** The encoded size of the value. */
  readonly bytes: number
  /** `maxValueBytes`. */
  readonly limit: number
  constructor(key: string, bytes: number, limit: number) {
    super(
      'E_VALUE_TOO_LARGE',
      `Value for "${key}" encodes to ${bytes} bytes, over maxValueBytes (${limit}); it was returned but not stored.`,
      { key },
    )
    this.bytes = bytes
    this.limit = limit
  }
}

/** The cache was closed. */
export class CacheClosedError extends CacheError {
  constructor() {
    super('E_CLOSED', 'The cache is closed; create a new one with createCache().')
  }
}

/** An L2 write was deliberately skipped (the node is too full). The caller still gets its value. */
export class WriteSkippedError extends CacheError {
  /** Why it was skipped, e.g. the node and its memory ratio. */
  readonly reason: string
  constructor(key: string, reason: string) {
    super('E_WRITE_SKIPPED', `Write of "${key}" to Redis skipped: ${reason}.`, { key })
    this.reason = reason
  }
}

/** The loader (or batch loader) given is not a function. */
export class InvalidLoaderError extends CacheError {
  constructor(call: string, loader: unknown, key?: string) {
    super('E_INVALID_LOADER', `${call} needs a loader function; got ${describe(loader)}.`, { key })
  }
}

/** A value that can never be cached: `undefined` (use delete()). Functions are E_SERIALIZE. */
export class InvalidValueError extends CacheError {
  constructor(key: string, message: string) {
    super('E_INVALID_VALUE', message, { key })
  }
}

/** getOrSetMany's batch loader returned something other than one value per key it was given. */
export class BatchLoaderError extends CacheError {
  /** How many values were expected (the number of keys). */
  readonly expected: number
  constructor(expected: number, ...got: [unknown?]) {
    const said =
      got.length === 0 ? '' : `; got ${Array.isArray(got[0]) ? `${got[0].length} values` : describe(got[0])}`
    super(
      'E_BATCH_LOADER',
      `getOrSetMany's batch loader must return an array of ${expected} values aligned with its keys (undefined = do not cache)${said}.`,
    )
    this.expected = expected
  }
}

/**
 * A plain URL or options point at a Redis Cluster node: a standalone client there gets a MOVED
 * reply for most keys, so most calls fall through to the loader.
 */
export class ClusterNodeError extends CacheError {
  /** `host:port` of the cluster node that was given as a single server. */
  readonly address: string
  constructor(address: string) {
    super(
      'E_CLUSTER_NODE',
      `Redis at ${address} is a cluster node (cluster_enabled:1) but was given as a single server; most keys live on other nodes (MOVED) and those calls are served from the loader. Pass redis: { cluster: [{ host, port }] } instead.`,
    )
    this.address = address
  }
}

/** Every error class by name, e.g. `err instanceof errors.LockTimeoutError`. */
export const errors = {
  /** {@link CacheError} */
  CacheError,
  /** {@link InvalidOptionError} */
  InvalidOptionError,
  /** {@link InvalidKeyError} */
  InvalidKeyError,
  /** {@link LoaderTimeoutError} */
  LoaderTimeoutError,
  /** {@link LockTimeoutError} */
  LockTimeoutError,
  /** {@link StoreUnavailableError} */
  StoreUnavailableError,
  /** {@link StoreTimeoutError} */
  StoreTimeoutError,
  /** {@link CircuitOpenError} */
  CircuitOpenError,
  /** {@link SerializationError} */
  SerializationError,
  /** {@link DecodeError} */
  DecodeError,
  /** {@link ValueTooLargeError} */
  ValueTooLargeError,
  /** {@link CacheClosedError} */
  CacheClosedError,
  /** {@link WriteSkippedError} */
  WriteSkippedError,
  /** {@link InvalidLoaderError} */
  InvalidLoaderError,
  /** {@link InvalidValueError} */
  InvalidValueError,
  /** {@link BatchLoaderError} */
  BatchLoaderError,
  /** {@link ClusterNodeError} */
  ClusterNodeError,
} as const

/** True for any Herdless error, also one thrown by another copy of the package. */
export function isCacheError(value: unknown, code?: ErrorCode): value is CacheError {
  if (typeof value !== 'object' || value === null) return false
  if ((value as { [BRAND]?: unknown })[BRAND] !== true) return false
  return code === undefined || (value as CacheError).code === code
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'function') return 'a function'
  return `${typeof value} ${String(value)}`
}
