import { countSlots } from '@herdless/core/tools'
import { type NodeSnapshot, readClusterNodes, snapshotCluster, snapshotNode, snapshotRemote } from './collect'
import { openConnection, parseRedisUrl, redactUrl } from './connection'
import { formatAddr, infoValue, parseReplicaLines } from './nodes'
import type { TopologyNode, TopologyOptions, TopologyReport } from './types'

/**
 * Reads who is who: a cluster (detected from the seed's `cluster_enabled`) is listed from
 * CLUSTER NODES and each node is asked directly for memory and replication; a standalone
 * server is listed with the replicas its INFO replication names.
 */
export async function readTopology(url: string, options: TopologyOptions = {}): Promise<TopologyReport> {
  const target = parseRedisUrl(url)
  const open = { redisOptions: options.redisOptions, timeoutMs: options.timeoutMs }
  const client = await openConnection(target, target.host, target.port, open)
  try {
    // CLUSTER INFO on a standalone server just errors; it also detects a cluster when INFO is denied.
    const seed = await snapshotNode(client, target.host, target.port, true)
    const isCluster = seed.info.ok
      ? seed.info.value.get('cluster_enabled') === '1'
      : seed.clusterInfo?.ok === true
    const entries = isCluster ? await readClusterNodes(client) : null

    if (entries === null || !entries.ok) {
      const nodes = [nodeFromSnapshot(seed, seed.info.ok ? (seed.info.value.get('run_id') ?? null) : null)]
      if (entries !== null && !entries.ok) {
        const seedNode = nodes[0]
        if (seedNode !== undefined) seedNode.error = `CLUSTER NODES failed: ${entries.reason}`
      }
      if (seed.info.ok && !isCluster) {
        const primaryOffset = infoValue(seed.info.value, 'master_repl_offset')
        const replicas = await Promise.all(
          parseReplicaLines(seed.info.value).map((line) =>
            snapshotRemote(target, line.host, line.port, false, open),
          ),
        )
        for (const replica of replicas) {
          const node = nodeFromSnapshot(replica, null)
          node.role = 'replica'
          node.primaryId = nodes[0]?.id ?? null
          node.primaryAddr = seed.addr
          if (node.replOffset !== null && primaryOffset !== null)
            node.replLag = primaryOffset - node.replOffset
          nodes.push(node)
        }
      }
      return {
        target: redactUrl(url),
        mode: isCluster ? 'cluster' : 'standalone',
        clusterState: null,
        slotsAssigned: null,
        nodes,
      }
    }

    const members = await snapshotCluster(target, entries.value, seed, open)
    const byId = new Map(members.map((m) => [m.entry.id, m]))
    const nodes = members.map(({ entry, snapshot }) => {
      const node = nodeFromSnapshot(snapshot, entry.id)
      // A node the cluster flagged `fail` is not serving, whatever role it last had: after a
      // failover the dead former primary still says `master` (with no slots) until it rejoins.
      node.role = entry.failed ? 'failed' : entry.role
      node.flags = entry.flags.filter((f) => f !== 'myself' && f !== 'master' && f !== 'slave')
      node.slots = entry.slots
      node.slotCount = countSlots(entry.slots)
      const primary = entry.primaryId === undefined ? undefined : byId.get(entry.primaryId)
      node.primaryId = entry.primaryId ?? null
      node.primaryAddr = primary?.entry.addr ?? null
      if (primary !== undefined && node.replOffset !== null && primary.snapshot.info.ok) {
        const primaryOffset = infoValue(primary.snapshot.info.value, 'master_repl_offset')
        if (primaryOffset !== null) node.replLag = primaryOffset - node.replOffset
      }
      return node
    })
    const seedInfo = seed.clusterInfo?.ok ? seed.clusterInfo.value : null
    return {
      target: redactUrl(url),
      mode: 'cluster',
      clusterState: seedInfo?.get('cluster_state') ?? null,
      slotsAssigned: nodes.filter((n) => n.role === 'primary').reduce((sum, n) => sum + n.slotCount, 0),
      nodes: orderNodes(nodes),
    }
  } finally {
    client.disconnect()
  }
}

function nodeFromSnapshot(snapshot: NodeSnapshot, id: string | null): TopologyNode {
  const info = snapshot.info.ok ? snapshot.info.value : null
  const usedMemory = infoValue(info, 'used_memory')
  const maxmemory = infoValue(info, 'maxmemory')
  const role =
    info?.get('role') === 'master' ? 'primary' : info?.get('role') === 'slave' ? 'replica' : 'unknown'
  const link = info?.get('master_link_status')
  const masterHost = info?.get('master_host')
  const masterPort = infoValue(info, 'master_port')
  return {
    id,
    addr: snapshot.addr,
    role,
    primaryId: null,
    primaryAddr: masterHost !== undefined && masterPort !== null ? formatAddr(masterHost, masterPort) : null,
    flags: [],
    slots: [],
    slotCount: 0,
    usedMemory,
    maxmemory,
    memoryRatio: usedMemory !== null && maxmemory !== null && maxmemory > 0 ? usedMemory / maxmemory : null,
    linkStatus: link === 'up' ? 'up' : link === 'down' ? 'down' : null,
    replOffset:
      role === 'replica' ? infoValue(info, 'slave_repl_offset') : infoValue(info, 'master_repl_offset'),
    replLag: null,
    error: snapshot.connectError ?? (snapshot.info.ok ? null : `INFO failed: ${snapshot.info.reason}`),
  }
}

/** Primaries by first slot, each followed by its replicas; anything unattached at the end. */
function orderNodes(nodes: TopologyNode[]): TopologyNode[] {
  const firstSlot = (n: TopologyNode) => n.slots[0]?.[0] ?? Number.MAX_SAFE_INTEGER
  const primaries = nodes
    .filter((n) => n.role === 'primary')
    .sort((a, b) => firstSlot(a) - firstSlot(b) || a.addr.localeCompare(b.addr))
  const ordered: TopologyNode[] = []
  for (const primary of primaries) {
    ordered.push(primary)
    ordered.push(
      ...nodes
        .filter((n) => n.role !== 'primary' && n.primaryId === primary.id)
        .sort((a, b) => a.addr.localeCompare(b.addr)),
    )
  }
  for (const node of nodes) if (!ordered.includes(node)) ordered.push(node)
  return ordered
}
