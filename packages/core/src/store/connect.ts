import type { ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { ClusterNodeError, InvalidOptionError } from '../errors'
import type { ClusterConfig, RedisInput } from '../options'
import type { NodeRedisInstance } from './client'
import { ioredis } from './ioredis-load'
import type { RedisClient } from './scripts'

/** Full-jitter exponential backoff (AWS architecture blog), capped at 2 s. */
export function fullJitter(attempt: number, base = 50, cap = 2_000): number {
  return Math.floor(Math.random() * Math.min(cap, base * 2 ** Math.min(attempt, 16)))
}

const REDIS_DEFAULTS: RedisOptions = {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  retryStrategy: (times) => Math.max(10, fullJitter(times)),
  connectTimeout: 2_000,
}

/**
 * Cluster clients survive topology change with these (ioredis 5.11, lib/cluster/index.ts):
 * - MOVED updates the slot in place, retries at once and calls refreshSlotsCache(), which
 *   coalesces: while one CLUSTER SLOTS is in flight (`isRefreshing`) further calls only queue a
 *   callback, so a burst of MOVED from many callers costs one refresh (test/chaos proves 1-2).
 * - ASK is followed with ASKING; TRYAGAIN / CLUSTERDOWN / a closed connection are retried after
 *   the delays below (the failover and clusterdown retries also trigger the shared refresh).
 * - No auto-pipelining: ioredis retries a cluster pipeline after MOVED/ASK only when every error
 *   in it is identical and every other command is read-only, and throws "All keys in the
 *   pipeline should belong to the same slots allocation group" when the slot map changed
 *   under a batch. Under load after a reshard, auto-pipelined commands for moved slots failed
 *   every time (raw MOVED errors, and no slot refresh ever triggered), so a busy process stopped
 *   caching those slots for good. The batching comes back without pipelines: the client seam
 *   sends each tick's commands to a node in one socket write (write-coalescer.ts).
 * - `scaleReads` ('master' by default) passes through from ClusterConfig; replica reads can
 *   miss an entry written a moment earlier (asynchronous replication).
 */
const CLUSTER_DEFAULTS: ClusterOptions = {
  enableAutoPipelining: false,
  clusterRetryStrategy: (times) => Math.max(10, fullJitter(times)),
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnTryAgain: 100,
  maxRedirections: 16,
  slotsRefreshTimeout: 1_000,
}

/**
 * ioredis 5.11 puts two `once('error')` listeners on each socket (its connector's and
 * Redis#connect's); both fire on the first error, so a second error from the same socket — a
 * failed TLS handshake can raise two — is an uncaught exception that kills the process. Give
 * every socket of this client a lasting listener: ioredis still handles the first error.
 */
export function absorbLateSocketErrors(client: Redis): Redis {
  const connector = (
    client as unknown as { connector?: { connect?: (...args: unknown[]) => Promise<unknown> } }
  ).connector
  const connect = connector?.connect
  if (connector === undefined || typeof connect !== 'function') return client
  connector.connect = async (...args: unknown[]) => {
    const stream = await connect.apply(connector, args)
    if (stream !== null && typeof stream === 'object' && 'on' in stream && typeof stream.on === 'function') {
      stream.on('error', () => {})
    }
    return stream
  }
  return client
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}

/**
 * A single-server client pointed at a Redis Cluster node gets MOVED for most keys, and every
 * such call falls through to the loader with no hint why. Ask once per connection
 * (`INFO cluster`, answered by every node) and raise a coded ClusterNodeError through the
 * client's 'error' event, which createCache routes to the cache's `error` event and logger.
 * Only for clients Herdless builds: yours are yours to configure.
 */
export function detectClusterNode(client: Redis): Redis {
  client.on('ready', () => {
    client.info('cluster').then(
      (info) => {
        if (/^cluster_enabled:1\b/m.test(String(info))) {
          const { host, port } = client.options
          client.emit('error', new ClusterNodeError(`${host ?? '127.0.0.1'}:${port ?? 6379}`))
        }
      },
      () => {}, // INFO denied by ACL or the connection dropped: nothing learned, nothing to say
    )
  })
  return client
}

/**
 * A client instance, ioredis/iovalkey or node-redis 5 (both have `sendCommand` and `duplicate`);
 * adaptClient() (adapt.ts) tells them apart by shape.
 */
export function isClientInstance(input: unknown): input is RedisClient | NodeRedisInstance {
  return (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as { sendCommand?: unknown }).sendCommand === 'function' &&
    typeof (input as { duplicate?: unknown }).duplicate === 'function'
  )
}

/** Build (or adopt) the ioredis client. `owned` clients are closed by cache.close(); yours never are. */
export function connectRedis(input: RedisInput): {
  client: RedisClient | NodeRedisInstance
  owned: boolean
} {
  if (isClientInstance(input)) return { client: input, owned: false }
  if (typeof input === 'string') {
    if (!/^rediss?:\/\//.test(input)) {
      throw new InvalidOptionError(
        'redis',
        'a redis:// or rediss:// URL, ioredis options, { cluster: [...] } or a client',
        input,
      )
    }
    try {
      // ioredis parses with url.parse + new URL and throws ERR_INVALID_URL with the whole URL
      // (password included) in the message: check first and name the option instead.
      const u = new URL(input)
      if (u.port !== '' && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) throw new Error('port')
    } catch {
      throw new InvalidOptionError(
        'redis',
        "a valid URL such as 'redis://user:pass@host:6379/0' (check the host and that the port is a number)",
        redactUrl(input),
      )
    }
    return {
      client: detectClusterNode(absorbLateSocketErrors(new (ioredis().Redis)(input, REDIS_DEFAULTS))),
      owned: true,
    }
  }
  if (typeof input === 'object' && input !== null) {
    if ('cluster' in input) {
      const { cluster: nodes, ...rest } = input as ClusterConfig
      if (!Array.isArray(nodes) || nodes.length === 0) {
        throw new InvalidOptionError(
          'redis.cluster',
          'a non-empty array of { host, port } startup nodes',
          nodes,
        )
      }
      return { client: new (ioredis().Cluster)(nodes, { ...CLUSTER_DEFAULTS, ...rest }), owned: true }
    }
    return {
      client: detectClusterNode(
        absorbLateSocketErrors(new (ioredis().Redis)({ ...REDIS_DEFAULTS, ...(input as RedisOptions) })),
      ),
      owned: true,
    }
  }
  throw new InvalidOptionError(
    'redis',
    'a URL, ioredis options, { cluster: [...] } or an ioredis client',
    input,
  )
}
