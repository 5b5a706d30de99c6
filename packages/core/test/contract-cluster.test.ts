import { sharedCluster } from '@herdless/test-utils'
import { Cluster } from 'ioredis'
import { afterAll } from 'vitest'
import { cacheContract } from './contract'

let raw: Cluster | undefined
afterAll(async () => {
  await raw?.quit()
})

cacheContract({
  name: 'Redis Cluster (3 primaries + 3 replicas)',
  // 2 s deadline: exact loader counts must not be skewed by a loaded CI machine (see contract.ts).
  options: () => ({ redis: { cluster: sharedCluster().startupNodes }, redisTimeout: '2s' }),
  async writeRaw(key, bytes) {
    raw ??= new Cluster(sharedCluster().startupNodes)
    await raw.set(key, bytes)
  },
})
