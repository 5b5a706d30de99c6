import type { TestProject } from 'vitest/node'
import { type RedisCluster, startCluster } from './cluster'
import { type RedisServer, startRedis } from './redis-server'
import type { SharedClusterInfo } from './shared'

/**
 * vitest globalSetup: one standalone Redis and one 3 + 3 cluster for the whole run, handed to
 * tests with provide()/inject() (read them with sharedRedis() / sharedCluster()).
 *
 * Referenced once, by the root vitest.config.ts: vitest runs the root config's globalSetup once
 * per run and every project inherits what it provides. Do not add it to a project's config too,
 * or that project starts its own pair.
 *
 * HERDLESS_SHARED_CLUSTER=0 skips the cluster (quicker local runs of unit tests).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const withCluster = process.env.HERDLESS_SHARED_CLUSTER !== '0'
  const [redis, cluster] = await Promise.allSettled([
    startRedis(),
    withCluster ? startCluster() : Promise.resolve(null),
  ])
  const teardown = async (): Promise<void> => {
    await Promise.all([
      redis.status === 'fulfilled' ? redis.value.stop() : undefined,
      cluster.status === 'fulfilled' ? cluster.value?.stop() : undefined,
    ])
  }
  if (redis.status === 'rejected' || cluster.status === 'rejected') {
    await teardown()
    throw redis.status === 'rejected' ? redis.reason : (cluster as PromiseRejectedResult).reason
  }
  project.provide('herdlessRedis', describeRedis(redis.value))
  project.provide('herdlessCluster', cluster.value ? await describeCluster(cluster.value) : null)
  return teardown
}

function describeRedis(server: RedisServer): { host: string; port: number; url: string } {
  return { host: server.host, port: server.port, url: server.url }
}

async function describeCluster(cluster: RedisCluster): Promise<SharedClusterInfo> {
  const nodes = await cluster.nodes()
  return {
    startupNodes: cluster.startupNodes,
    nodes: nodes.map(({ id, index, host, port, role, primaryId, slots }) => ({
      id,
      index,
      host,
      port,
      role,
      slots,
      ...(primaryId ? { primaryId } : {}),
    })),
  }
}
