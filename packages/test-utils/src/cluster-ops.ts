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

/** `redis-cli --cluster add-node new existing [--cluster-slave --cluster-master-id id]`. */
export async function cliAddNode(
  newPort: number,
  existingPort: number,
  replicaOf?: string,
  timeoutMs = 30_000,
): Promise<void> {
  await redisCli(
    [
      '--cluster',
      'add-node',
      `${LOOPBACK}:${newPort}`,
      `${LOOPBACK}:${existingPort}`,
      ...(replicaOf === undefined ? [] : ['--cluster-slave', '--cluster-master-id', replicaOf]),
    ],
    timeoutMs,
  )
  // add-node returns before the new node has met every other node: wait until it has.
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const info = String(await redisCommand(newPort, ['CLUSTER', 'INFO']))
    const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1] ?? 0)
    const peers = String(await redisCommand(existingPort, ['CLUSTER', 'INFO']))
    const want = Number(/cluster_known_nodes:(\d+)/.exec(peers)?.[1] ?? 0)
    if (known > 1 && known === want) return
    if (Date.now() > deadline) throw new Error(`node :${newPort} did not join (${known}/${want} known)`)
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
