import { execFile } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type ClusterNodesEntry,
  countSlots,
  expandSlots,
  isFailing,
  isPrimaryEntry,
  parseClusterNodes,
} from './cluster-nodes'
import { LOOPBACK } from './ports'
import { untrackDir } from './processes'
import { argValue, type ManagedRedis, makeTempDir, startManaged } from './redis-server'
import { parseInfo, RespConnection, type RespValue } from './resp'
import { sleep, waitUntil } from './wait'

export const CLUSTER_SLOTS = 16_384

export interface StartClusterOptions {
  /** @default 3 (redis-cli refuses fewer) */
  primaries?: number
  /** @default 1 */
  replicasPerPrimary?: number
  /** Extra redis-server arguments for every node (e.g. `['--maxmemory', '20mb']`). */
  args?: string[]
  /** `cluster-node-timeout`: a dead primary is replaced about 2.5x this after it dies. @default 1000 */
  nodeTimeoutMs?: number
  /** Budget for the whole start (spawn, create, replicas in sync). @default 60000 */
  startTimeoutMs?: number
}

export type NodeRole = 'primary' | 'replica'

export interface NodeInfo {
  /** The Redis node id (40 hex chars). Stable across restartNode (nodes.conf is kept). */
  id: string
  /** Spawn order, 0-based; stable for the cluster's life. */
  index: number
  host: string
  port: number
  /** Process id while alive. */
  pid: number | null
  role: NodeRole
  /** For a replica: its primary's node id. */
  primaryId?: string
  /** Owned slot ranges, inclusive (empty for replicas). */
  slots: [number, number][]
  /** The process runs (it may still be unreachable for a moment after a restart). */
  alive: boolean
}

/**
 * Which node: a Redis node id (as in CLUSTER NODES and NodeInfo.id), a spawn index (0-based
 * number, NodeInfo.index), or any object with an `id` (a NodeInfo).
 */
export type NodeRef = string | number | { id: string }

export interface ReshardProgress {
  slot: number
  /** Keys moved so far in this slot. */
  movedKeys: number
  /** Keys of this slot still on the source node (the slot is half-migrated while > 0). */
  remainingKeys: number
}

export interface ReshardOptions {
  from: NodeRef
  to: NodeRef
  /** How many slots (the lowest `from` owns) or exactly which ones. */
  slots: number | number[]
  /** Keys per MIGRATE. @default 100 */
  batchSize?: number
  /**
   * Called after every MIGRATE batch, while the slot is MIGRATING on the source and IMPORTING on
   * the target: reads made here exercise ASK redirection.
   */
  onBatch?: (progress: ReshardProgress) => void | Promise<void>
}

export interface ReshardResult {
  slots: number[]
  keys: number
}

export interface RedisCluster {
  /** Every node's address, in spawn order: hand these to `new Cluster(startupNodes)`. */
  readonly startupNodes: { host: string; port: number }[]
  /** The parent temp folder holding one `node-<index>` folder per node. */
  readonly dir: string
  /** From `--requirepass` in args, if given (also used as `masterauth`). */
  readonly password: string | undefined
  /** Live topology: each alive node's own view of itself, the others' view of dead nodes. */
  nodes(): Promise<NodeInfo[]>
  /** Alive primaries that own slots. */
  primaries(): Promise<NodeInfo[]>
  /** Alive replicas. */
  replicas(): Promise<NodeInfo[]>
  /** SIGKILL one node (no shutdown). Does not wait for failover: call waitForHealthy(). */
  killNode(ref: NodeRef): Promise<void>
  /** Graceful SIGTERM of one node. Does not wait for failover. */
  stopNode(ref: NodeRef): Promise<void>
  /** Start a stopped/killed node again (same port, folder and node id); waits until healthy. */
  restartNode(ref: NodeRef): Promise<void>
  /** Manual CLUSTER FAILOVER on a replica; retried; waits until roles swapped and healthy. */
  failover(replica: NodeRef, options?: { force?: boolean; timeoutMs?: number }): Promise<void>
  /** Move slots with their keys from one primary to another (SETSLOT + MIGRATE, like redis-cli). */
  reshard(options: ReshardOptions): Promise<ReshardResult>
  /**
   * Wait until every alive node says cluster_state:ok, all alive nodes agree on slot owners and
   * roles, the 16384 slots are owned by alive primaries, no migration is open, no alive node is
   * flagged failing, and every alive replica has master_link_status:up.
   */
  waitForHealthy(options?: { timeoutMs?: number }): Promise<void>
  /** SIGKILL every node (nothing is persisted) and remove the folders. Idempotent. */
  stop(): Promise<void>
}

interface NodeSlot {
  index: number
  id: string
  server: ManagedRedis
}

interface View {
  node: NodeSlot
  entries: ClusterNodesEntry[]
  myself: ClusterNodesEntry
  state: string
  masterLink?: string
}

function rangesKey(ranges: readonly [number, number][]): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

class Cluster implements RedisCluster {
  readonly dir: string
  readonly password: string | undefined
  readonly #nodes: NodeSlot[]
  #stopped = false

  constructor(dir: string, nodes: NodeSlot[], password: string | undefined) {
    this.dir = dir
    this.#nodes = nodes
    this.password = password
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.#nodes.map((n) => ({ host: n.server.host, port: n.server.port }))
  }

  #resolve(ref: NodeRef): NodeSlot {
    const node =
      typeof ref === 'number'
        ? this.#nodes[ref]
        : this.#nodes.find((n) => n.id === (typeof ref === 'string' ? ref : ref.id))
    if (!node) throw new Error(`cluster: no node ${JSON.stringify(ref)} (use a node id or a 0-based index)`)
    return node
  }

  #open(node: NodeSlot, timeoutMs = 5000): Promise<RespConnection> {
    return RespConnection.open(node.server.port, { password: this.password, timeoutMs })
  }

  async #call(node: NodeSlot, ...args: (string | number)[]): Promise<RespValue> {
    const conn = await this.#open(node)
    try {
      return await conn.call(...args)
    } finally {
      conn.close()
    }
  }

  async #view(node: NodeSlot): Promise<View> {
    const conn = await this.#open(node, 3000)
    try {
      const [nodesText, infoText] = await Promise.all([
        conn.text('CLUSTER', 'NODES'),
        conn.text('CLUSTER', 'INFO'),
      ])
      const entries = parseClusterNodes(nodesText)
      const myself = entries.find((e) => e.flags.includes('myself'))
      if (!myself) throw new Error(`node ${node.index}: no myself line in CLUSTER NODES`)
      const view: View = { node, entries, myself, state: parseInfo(infoText).cluster_state ?? '?' }
      if (!isPrimaryEntry(myself)) {
        view.masterLink = parseInfo(await conn.text('INFO', 'replication')).master_link_status
      }
      return view
    } finally {
      conn.close()
    }
  }

  /** Views of every alive node that answers (a node restarting may not yet). */
  async #views(): Promise<View[]> {
    const alive = this.#nodes.filter((n) => n.server.running)
    const settled = await Promise.allSettled(alive.map((n) => this.#view(n)))
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  }

  async nodes(): Promise<NodeInfo[]> {
    const views = await this.#views()
    return this.#nodes.map((node) => {
      const own = views.find((v) => v.node === node)?.myself
      const seen = own ?? views.map((v) => v.entries.find((e) => e.id === node.id)).find((e) => e)
      const info: NodeInfo = {
        id: node.id,
        index: node.index,
        host: node.server.host,
        port: node.server.port,
        pid: node.server.pid,
        role: seen && !isPrimaryEntry(seen) ? 'replica' : 'primary',
        slots: seen && isPrimaryEntry(seen) ? seen.slots : [],
        alive: node.server.running,
      }
      if (seen?.primaryId) info.primaryId = seen.primaryId
      return info
    })
  }

  async primaries(): Promise<NodeInfo[]> {
    return (await this.nodes()).filter((n) => n.alive && n.role === 'primary' && n.slots.length > 0)
  }

  async replicas(): Promise<NodeInfo[]> {
    return (await this.nodes()).filter((n) => n.alive && n.role === 'replica')
  }

  /** Why the cluster is not healthy yet, or true. */
  async #health(): Promise<true | string> {
    const alive = this.#nodes.filter((n) => n.server.running)
    if (alive.length === 0) return 'no node is running'
    const views = await this.#views()
    const silent = alive.filter((n) => !views.some((v) => v.node === n))
    if (silent.length) return `node(s) ${silent.map((n) => n.index).join(',')} do not answer`
    const aliveIds = new Set(alive.map((n) => n.id))
    let reference: string | undefined
    for (const view of views) {
      const who = `node ${view.node.index} (:${view.node.server.port})`
      if (view.state !== 'ok') return `${who}: cluster_state:${view.state}`
      if (view.myself.openSlots.length) return `${who}: open slots ${view.myself.openSlots.join(' ')}`
      if (view.masterLink !== undefined && view.masterLink !== 'up') {
        return `${who}: replica with master_link_status:${view.masterLink}`
      }
      const known = new Map(view.entries.map((e) => [e.id, e]))
      for (const id of aliveIds) {
        const entry = known.get(id)
        if (!entry) return `${who} does not know node ${id}`
        if (isFailing(entry) || entry.flags.includes('handshake')) {
          return `${who} sees ${id} as ${entry.flags.join(',')}`
        }
      }
      // Slot owners and the role of every alive node, as this node sees them.
      const owners = view.entries
        .filter((e) => isPrimaryEntry(e) && e.slots.length)
        .map((e) => `${e.id}=${rangesKey(e.slots)}`)
        .sort()
      const roles = view.entries
        .filter((e) => aliveIds.has(e.id))
        .map((e) => `${e.id}:${isPrimaryEntry(e) ? 'P' : `R>${e.primaryId}`}`)
        .sort()
      const signature = `${owners.join(' ')} | ${roles.join(' ')}`
      if (reference === undefined) {
        reference = signature
        let covered = 0
        for (const e of view.entries) {
          if (!isPrimaryEntry(e) || !e.slots.length) continue
          if (!aliveIds.has(e.id))
            return `${who}: slots ${rangesKey(e.slots)} still owned by dead node ${e.id}`
          covered += countSlots(e.slots)
        }
        if (covered !== CLUSTER_SLOTS) return `${who}: ${covered}/${CLUSTER_SLOTS} slots covered`
      } else if (signature !== reference) {
        return `nodes disagree about slots or roles (${who} differs)`
      }
    }
    return true
  }

  async waitForHealthy(options: { timeoutMs?: number } = {}): Promise<void> {
    await waitUntil('a healthy cluster', () => this.#health(), {
      timeoutMs: options.timeoutMs ?? 30_000,
      intervalMs: 50,
    })
  }

  async killNode(ref: NodeRef): Promise<void> {
    await this.#resolve(ref).server.kill()
  }

  async stopNode(ref: NodeRef): Promise<void> {
    await this.#resolve(ref).server.stop()
  }

  async restartNode(ref: NodeRef): Promise<void> {
    const node = this.#resolve(ref)
    await node.server.restart()
    await this.waitForHealthy()
  }

  async failover(ref: NodeRef, options: { force?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const node = this.#resolve(ref)
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    // A failover sent right after a rejoin or another failover times out: start from agreement.
    await this.waitForHealthy({ timeoutMs: Math.max(1000, deadline - Date.now()) })
    const before = await this.#view(node)
    if (isPrimaryEntry(before.myself)) throw new Error(`failover: node ${node.index} is not a replica`)
    const oldPrimary = this.#nodes.find((n) => n.id === before.myself.primaryId)
    let attempts = 0
    for (;;) {
      attempts++
      await this.#call(node, 'CLUSTER', 'FAILOVER', ...(options.force ? ['FORCE'] : []))
      try {
        await waitUntil(
          `node ${node.index} to become primary`,
          async () => {
            const now = await this.#view(node)
            if (!isPrimaryEntry(now.myself)) return 'still a replica'
            if (oldPrimary?.server.running) {
              const old = await this.#view(oldPrimary)
              if (isPrimaryEntry(old.myself)) return `old primary ${oldPrimary.index} not demoted yet`
            }
            return true
          },
          // The manual failover itself gives up after 5 s (CLUSTER_MF_TIMEOUT).
          { timeoutMs: Math.min(6000, Math.max(500, deadline - Date.now())) },
        )
        break
      } catch (error) {
        if (Date.now() >= deadline) {
          throw new Error(`failover of node ${node.index} failed after ${attempts} attempt(s)`, {
            cause: error,
          })
        }
        await sleep(250)
      }
    }
    await this.waitForHealthy({ timeoutMs: Math.max(5000, deadline - Date.now()) })
  }

  async reshard(options: ReshardOptions): Promise<ReshardResult> {
    const source = this.#resolve(options.from)
    const target = this.#resolve(options.to)
    if (source === target) throw new Error('reshard: from and to are the same node')
    await this.waitForHealthy()
    const [srcView, dstView] = await Promise.all([this.#view(source), this.#view(target)])
    if (!isPrimaryEntry(srcView.myself)) throw new Error(`reshard: node ${source.index} is not a primary`)
    if (!isPrimaryEntry(dstView.myself)) throw new Error(`reshard: node ${target.index} is not a primary`)
    const owned = expandSlots(srcView.myself.slots)
    let slots: number[]
    if (typeof options.slots === 'number') {
      if (options.slots > owned.length) {
        throw new Error(`reshard: node ${source.index} owns ${owned.length} slots, ${options.slots} asked`)
      }
      slots = owned.slice(0, options.slots)
    } else {
      const ownedSet = new Set(owned)
      const foreign = options.slots.filter((s) => !ownedSet.has(s))
      if (foreign.length)
        throw new Error(`reshard: node ${source.index} does not own slots ${foreign.join(',')}`)
      slots = [...options.slots]
    }
    const others = srcView.entries
      .filter((e) => isPrimaryEntry(e) && !isFailing(e) && e.id !== source.id && e.id !== target.id)
      .map((e) => this.#nodes.find((n) => n.id === e.id))
      .filter((n): n is NodeSlot => n?.server.running === true)
    const batchSize = options.batchSize ?? 100
    const auth = this.password ? ['AUTH', this.password] : []
    const src = await this.#open(source, 30_000)
    const dst = await this.#open(target, 30_000)
    const rest = await Promise.all(others.map((n) => this.#open(n, 30_000)))
    let keys = 0
    const done: number[] = []
    // A failing onBatch (an assertion in a test) must not leave a slot half-migrated: the current
    // slot is finished, the rest are not started, and the error is rethrown once healthy.
    let hookFailed = false
    let hookError: unknown
    try {
      for (const slot of slots) {
        if (hookFailed) break
        // Order matters (as in redis-cli): IMPORTING on the target first, so that once the
        // source answers ASK the target already accepts the ASKING client.
        await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id)
        await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id)
        let moved = 0
        for (;;) {
          const batch = await src.call('CLUSTER', 'GETKEYSINSLOT', slot, batchSize)
          if (!Array.isArray(batch) || batch.length === 0) break
          const names = batch.filter((k): k is string => typeof k === 'string')
          await src.call(
            'MIGRATE',
            target.server.host,
            target.server.port,
            '',
            0,
            10_000,
            'REPLACE',
            ...auth,
            'KEYS',
            ...names,
          )
          moved += names.length
          if (options.onBatch && !hookFailed) {
            const remaining = Number(await src.call('CLUSTER', 'COUNTKEYSINSLOT', slot))
            try {
              await options.onBatch({ slot, movedKeys: moved, remainingKeys: remaining })
            } catch (error) {
              hookFailed = true
              hookError = error
            }
          }
        }
        keys += moved
        // Target first (it bumps its config epoch and owns the slot), then the source (which stops
        // answering ASK and answers MOVED), then everyone else.
        await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id)
        await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id)
        await Promise.all(rest.map((conn) => conn.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id)))
        done.push(slot)
      }
    } catch (error) {
      throw new Error(
        `reshard: failed at slot ${slots[done.length]} after moving ${done.length} slot(s); ` +
          'the cluster may have an open slot (redis-cli --cluster fix repairs it)',
        { cause: error },
      )
    } finally {
      src.close()
      dst.close()
      for (const conn of rest) conn.close()
    }
    await this.waitForHealthy()
    if (hookFailed) throw hookError
    return { slots, keys }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    await Promise.all(this.#nodes.map((n) => n.server.destroy(true)))
    await rm(this.dir, { recursive: true, force: true })
    untrackDir(this.dir)
  }
}

/**
 * Start a Redis Cluster on 127.0.0.1: `primaries * (1 + replicasPerPrimary)` servers (default
 * 3 + 3), joined with `redis-cli --cluster create`, resolved once the cluster is healthy (see
 * RedisCluster.waitForHealthy: all slots covered, replicas attached and in sync).
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const primaries = options.primaries ?? 3
  const replicasPerPrimary = options.replicasPerPrimary ?? 1
  if (primaries < 3) throw new Error('startCluster: redis-cli --cluster create needs at least 3 primaries')
  const total = primaries * (1 + replicasPerPrimary)
  const userArgs = options.args ?? []
  const password = argValue(userArgs, '--requirepass')
  const dir = await makeTempDir('cluster')
  const started: ManagedRedis[] = []
  try {
    // allSettled, not all: on a failure every server that did start must be known to be killed.
    const settled = await Promise.allSettled(
      Array.from({ length: total }, async (_, index) => {
        const nodeDir = join(dir, `node-${index}`)
        await mkdir(nodeDir)
        const server = await startManaged({
          dir: nodeDir,
          withClusterBus: true,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(nodeDir, 'nodes.conf'),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
            '--cluster-require-full-coverage',
            'no',
            // Replicas sync at once instead of waiting 5 s for more replicas to join.
            '--repl-diskless-sync-delay',
            '0',
            // Any replica may take over, however long it was disconnected (tests restart nodes).
            '--cluster-replica-validity-factor',
            '0',
            ...(password ? ['--masterauth', password] : []),
            ...userArgs,
          ],
        })
        started.push(server)
        return server
      }),
    )
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) throw failed.reason
    const servers = settled.map((s) => (s as PromiseFulfilledResult<ManagedRedis>).value)
    const ids = await Promise.all(
      servers.map(async (server) => {
        const conn = await RespConnection.open(server.port, { password })
        try {
          return await conn.text('CLUSTER', 'MYID')
        } finally {
          conn.close()
        }
      }),
    )
    await run(
      'redis-cli',
      [
        ...(password ? ['-a', password, '--no-auth-warning'] : []),
        '--cluster',
        'create',
        ...servers.map((s) => `${LOOPBACK}:${s.port}`),
        '--cluster-replicas',
        String(replicasPerPrimary),
        '--cluster-yes',
      ],
      options.startTimeoutMs ?? 60_000,
    )
    const cluster = new Cluster(
      dir,
      servers.map((server, index) => ({ index, id: ids[index] ?? '', server })),
      password,
    )
    await cluster.waitForHealthy({ timeoutMs: options.startTimeoutMs ?? 60_000 })
    return cluster
  } catch (error) {
    await Promise.all(started.map((s) => s.destroy(true)))
    await rm(dir, { recursive: true, force: true })
    untrackDir(dir)
    throw error
  }
}
