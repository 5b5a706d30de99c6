import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { LOOPBACK } from './ports'
import { makeTempDir, startManaged } from './redis-server'
import { redisCommand } from './resp'

/**
 * What an operator does to a live cluster, with the operators' own tool (`redis-cli --cluster`),
 * beside the harness's reshard: add an empty node, move slots to it, rebalance, and cut every
 * Pub/Sub connection. Loopback only; every server started here is killed at exit like the others.
 */

export interface ExtraNode {
  port: number
  /** `CLUSTER MYID` */
  id: string
  /** SIGKILL and remove. */
  destroy(): Promise<void>
}

function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      args,
      { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`))
        else resolve(stdout)
      },
    )
  })
}

/** An empty cluster-enabled redis-server (same settings as startCluster's), not yet joined. */
export async function startEmptyClusterNode(options: { nodeTimeoutMs?: number } = {}): Promise<ExtraNode> {
  const dir = await makeTempDir('cluster-extra')
  await mkdir(join(dir, 'node'))
  const server = await startManaged({
    dir: join(dir, 'node'),
    withClusterBus: true,
    args: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'node', 'nodes.conf'),
      '--cluster-node-timeout',
      String(options.nodeTimeoutMs ?? 1000),
      '--cluster-require-full-coverage',
      'no',
      '--repl-diskless-sync-delay',
      '0',
      '--cluster-replica-validity-factor',
      '0',
    ],
  })
  const id = String(await redisCommand(server.port, ['CLUSTER', 'MYID']))
  return { port: server.port, id, destroy: () => server.destroy(true) }
}

/**
 * `redis-cli --cluster add-node new existing [--cluster-slave --cluster-master-id id]`, then wait
 * until every node in `peers` knows the new one (add-node returns before the gossip has spread, and
 * a reshard started earlier fails with "Unknown node").
 */
export async function cliAddNode(
  node: ExtraNode,
  existingPort: number,
  options: { peers: readonly number[]; replicaOf?: string; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000
  await redisCli(
    [
      '--cluster',
      'add-node',
      `${LOOPBACK}:${node.port}`,
      `${LOOPBACK}:${existingPort}`,
      ...(options.replicaOf === undefined
        ? []
        : ['--cluster-slave', '--cluster-master-id', options.replicaOf]),
    ],
    timeoutMs,
  )
  const deadline = Date.now() + timeoutMs
  for (const port of options.peers) {
    for (;;) {
      const known = await redisCommand(port, ['CLUSTER', 'NODES']).then(
        (nodes) => String(nodes).includes(node.id),
        () => true, // a stopped or killed peer does not need to know
      )
      if (known) break
      if (Date.now() > deadline) throw new Error(`node :${port} did not learn of ${node.id}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  // ...and until the new node sees the cluster as up (it answers CLUSTERDOWN to MIGRATE before).
  for (;;) {
    const info = String(await redisCommand(node.port, ['CLUSTER', 'INFO']))
    if (info.includes('cluster_state:ok')) return
    if (Date.now() > deadline) throw new Error(`node :${node.port} never saw cluster_state:ok`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `redis-cli --cluster reshard` of `slots` slots from every primary to `toId`. */
export async function cliReshard(
  existingPort: number,
  toId: string,
  slots: number,
  timeoutMs = 120_000,
): Promise<void> {
  await redisCli(
    [
      '--cluster',
      'reshard',
      `${LOOPBACK}:${existingPort}`,
      '--cluster-from',
      'all',
      '--cluster-to',
      toId,
      '--cluster-slots',
      String(slots),
      '--cluster-yes',
      '--cluster-pipeline',
      '100',
    ],
    timeoutMs,
  )
}

/** `redis-cli --cluster rebalance --cluster-use-empty-masters`. */
export async function cliRebalance(
  existingPort: number,
  /** `--cluster-weight` entries (`<node id>=<weight>`). */
  weights: readonly string[] = [],
  timeoutMs = 120_000,
): Promise<void> {
  await redisCli(
    [
      '--cluster',
      'rebalance',
      `${LOOPBACK}:${existingPort}`,
      '--cluster-use-empty-masters',
      '--cluster-pipeline',
      '100',
      ...(weights.length > 0 ? ['--cluster-weight', ...weights] : []),
    ],
    timeoutMs,
  )
}

/** `CLIENT KILL TYPE pubsub` on every given server; returns how many connections were cut. */
export async function killPubsubClients(ports: readonly number[]): Promise<number> {
  let killed = 0
  for (const port of ports) {
    try {
      killed += Number(await redisCommand(port, ['CLIENT', 'KILL', 'TYPE', 'pubsub']))
    } catch {
      // A stopped or killed node has no clients to cut.
    }
  }
  return killed
}
