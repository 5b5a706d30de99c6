import type { Redis } from 'ioredis'
import { type OpenOptions, openConnection, type Probe, probe, type RedisTarget } from './connection'
import {
  type ClusterNodeEntry,
  formatAddr,
  type InfoFields,
  parseInfo,
  readClusterNodeEntries,
} from './nodes'

/** The CONFIG parameters the doctor reads. */
export const CONFIG_NAMES = [
  'maxmemory',
  'maxmemory-policy',
  'maxmemory-samples',
  'activedefrag',
  'cluster-require-full-coverage',
] as const
export type ConfigName = (typeof CONFIG_NAMES)[number]
export type ConfigValues = Partial<Record<ConfigName, string>>

/** Everything read from one node, each read allowed to fail on its own. */
export interface NodeSnapshot {
  addr: string
  host: string
  port: number
  /** Set when the node could not be reached; every probe below then carries the same reason. */
  connectError: string | null
  info: Probe<InfoFields>
  config: Probe<ConfigValues>
  /** `CLUSTER INFO`, read only when auditing a cluster. */
  clusterInfo: Probe<InfoFields> | null
}

async function readConfig(client: Redis): Promise<ConfigValues> {
  // One CONFIG GET per name: multi-name CONFIG GET needs Redis 7, and an unknown name (no
  // activedefrag on a build without jemalloc) simply comes back empty.
  const values: ConfigValues = {}
  const replies = await Promise.all(CONFIG_NAMES.map((name) => client.config('GET', name)))
  for (const reply of replies) {
    if (!Array.isArray(reply)) continue
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const name = reply[i]
      const value = reply[i + 1]
      if (typeof name === 'string' && typeof value === 'string' && isConfigName(name)) values[name] = value
    }
  }
  return values
}

function isConfigName(name: string): name is ConfigName {
  return (CONFIG_NAMES as readonly string[]).includes(name)
}

export async function snapshotNode(
  client: Redis,
  host: string,
  port: number,
  withCluster: boolean,
): Promise<NodeSnapshot> {
  const [info, config, clusterInfo] = await Promise.all([
    probe(async () => parseInfo(await client.info())),
    probe(() => readConfig(client)),
    withCluster ? probe(async () => parseInfo(await client.cluster('INFO'))) : Promise.resolve(null),
  ])
  return { addr: formatAddr(host, port), host, port, connectError: null, info, config, clusterInfo }
}

export function unreachableSnapshot(host: string, port: number, reason: string): NodeSnapshot {
  const failed = { ok: false, reason } as const
  return {
    addr: formatAddr(host, port),
    host,
    port,
    connectError: reason,
    info: failed,
    config: failed,
    clusterInfo: failed,
  }
}

/** Opens a connection, snapshots the node and closes it; an unreachable node becomes a snapshot. */
export async function snapshotRemote(
  target: RedisTarget,
  host: string,
  port: number,
  withCluster: boolean,
  options: OpenOptions,
): Promise<NodeSnapshot> {
  let client: Redis
  try {
    client = await openConnection(target, host, port, options)
  } catch (error) {
    return unreachableSnapshot(host, port, error instanceof Error ? error.message : String(error))
  }
  try {
    return await snapshotNode(client, host, port, withCluster)
  } finally {
    client.disconnect()
  }
}

export async function readClusterNodes(client: Redis): Promise<Probe<ClusterNodeEntry[]>> {
  return probe(async () => readClusterNodeEntries(String(await client.cluster('NODES'))))
}

/** A node as a cluster seed lists it, with what was read from it directly. */
export interface ClusterMember {
  entry: ClusterNodeEntry
  snapshot: NodeSnapshot
}

/**
 * Snapshots every node the seed lists, in parallel, over their own standalone connections
 * (a node's own INFO and CONFIG are the truth; the seed's view of it is second-hand).
 * The seed is reused rather than reconnected.
 */
export async function snapshotCluster(
  target: RedisTarget,
  entries: ClusterNodeEntry[],
  seed: NodeSnapshot,
  options: OpenOptions,
): Promise<ClusterMember[]> {
  return Promise.all(
    entries.map(async (entry) => {
      const isSeed = entry.myself || (entry.host === seed.host && entry.port === seed.port)
      const snapshot = isSeed
        ? { ...seed, addr: entry.addr }
        : await snapshotRemote(target, entry.host, entry.port, true, options)
      return { entry, snapshot }
    }),
  )
}
