import { sharedCluster, sharedRedis } from '@herdless/test-utils'
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { Redis as Valkey, Cluster as ValkeyCluster } from 'iovalkey'
import { createClient, createCluster } from 'redis'
import { afterAll, beforeAll, describe } from 'vitest'
import { cacheContract } from './contract'

/*
 * The contract suite on every client a user may hand in as an instance (the URL/options path,
 * which builds ioredis 5, runs in contract-redis/contract-cluster.test.ts): node-redis 5
 * standalone and cluster, ioredis 6 (RESP3 by default) and iovalkey 0.4, standalone and cluster.
 */

type NodeRedis = ReturnType<typeof createClient>
type NodeRedisCluster = ReturnType<typeof createCluster>

describe('node-redis 5 createClient', () => {
  let client: NodeRedis
  beforeAll(async () => {
    client = createClient({ url: sharedRedis().url })
    client.on('error', () => {})
    await client.connect()
  })
  afterAll(async () => {
    await client.close()
  })
  cacheContract({
    name: 'node-redis 5 standalone',
    options: () => ({ redis: client, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await client.set(key, bytes)
    },
  })
})

describe('node-redis 5 createClient with RESP3', () => {
  let client: NodeRedis
  beforeAll(async () => {
    client = createClient({ url: sharedRedis().url, RESP: 3 }) as unknown as NodeRedis
    client.on('error', () => {})
    await client.connect()
  })
  afterAll(async () => {
    await client.close()
  })
  cacheContract({
    name: 'node-redis 5 standalone, RESP3',
    options: () => ({ redis: client, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await client.set(key, bytes)
    },
  })
})

describe('node-redis 5 createCluster', () => {
  let cluster: NodeRedisCluster
  beforeAll(async () => {
    cluster = createCluster({
      rootNodes: sharedCluster().startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    })
    cluster.on('error', () => {})
    await cluster.connect()
  })
  afterAll(async () => {
    await cluster.close()
  })
  cacheContract({
    name: 'node-redis 5 cluster',
    options: () => ({ redis: cluster, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await cluster.set(key, bytes)
    },
  })
})

describe('ioredis 6 instances', () => {
  const standalone = new Redis6(sharedRedis().url, { lazyConnect: false })
  const cluster = new Cluster6(sharedCluster().startupNodes)
  afterAll(async () => {
    await Promise.all([standalone.quit(), cluster.quit()])
  })
  cacheContract({
    name: 'ioredis 6 standalone (RESP3)',
    options: () => ({ redis: standalone, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await standalone.set(key, bytes)
    },
  })
  cacheContract({
    name: 'ioredis 6 cluster',
    options: () => ({ redis: cluster, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await cluster.set(key, bytes)
    },
  })
})

describe('iovalkey instances', () => {
  const client = new Valkey(sharedRedis().url)
  const cluster = new ValkeyCluster(sharedCluster().startupNodes)
  afterAll(async () => {
    await Promise.all([client.quit(), cluster.quit()])
  })
  cacheContract({
    name: 'iovalkey cluster',
    options: () => ({ redis: cluster, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await cluster.set(key, bytes)
    },
  })
  cacheContract({
    name: 'iovalkey standalone',
    options: () => ({ redis: client, redisTimeout: '2s' }),
    async writeRaw(key, bytes) {
      await client.set(key, bytes)
    },
  })
})
