import type { Cluster, Redis } from 'ioredis'
import { InvalidOptionError } from '../errors'
import { type Client, isIoredis, isNodeRedis, isNodeRedisCluster } from './client'
import { IoredisClient } from './ioredis-client'
import { NodeRedisClient, type NodeRedisCluster, type NodeRedisStandalone } from './node-redis-client'

/**
 * Put the seam over a client instance, recognised by shape (never by `instanceof`: the user's
 * copy of the library is not ours). ioredis and iovalkey: a `status` string; node-redis 5: an
 * `isOpen` boolean, and `masters` + `slots` for a cluster.
 *
 * A node-redis client must already be connected. node-redis rejects every command on a client
 * that was never connected ("The client is closed") and has no offline queue before connect();
 * connecting it for the user would make their own `await client.connect()` throw ("Socket already
 * opened") and blur who closes it. So: a coded error now, saying what to do.
 */
export function adaptClient(raw: unknown): Client {
  if (isNodeRedis(raw)) {
    if ((raw as { isOpen: boolean }).isOpen !== true) {
      throw new InvalidOptionError(
        'redis',
        'a connected node-redis client: `await client.connect()` before createCache() (Herdless never connects or closes a client you hand it)',
        'a node-redis client that is not open',
      )
    }
    const cluster = isNodeRedisCluster(raw)
    return new NodeRedisClient(raw as NodeRedisStandalone | NodeRedisCluster, cluster)
  }
  if (isIoredis(raw)) return new IoredisClient(raw as Redis | Cluster)
  throw new InvalidOptionError(
    'redis',
    'an ioredis/iovalkey Redis or Cluster, or a node-redis 5 createClient()/createCluster() client',
    raw,
  )
}
