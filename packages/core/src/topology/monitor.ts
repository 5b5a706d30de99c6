import type { Cluster, Redis } from 'ioredis'
import { type Duration, toMs } from '../duration'
import { type CacheError, InvalidOptionError, StoreTimeoutError, StoreUnavailableError } from '../errors'
import { keySlot } from '../keys'
import { adaptClient } from '../store/adapt'
import {
  type Client,
  type IoredisInstance,
  isReplyError,
  type NodeConnection,
  type NodeRedisInstance,
} from '../store/client'
import type { CacheEvents, TopologyNode, TopologySnapshot } from '../types'
import {
  type ClusterNodeLine,
  countSlots,
  infoNumber,
  mergeRanges,
  parseClusterNodes,
  parseInfo,
} from './replies'

/** The events a {@link TopologyMonitor} emits. */
export type TopologyEventName =
  | 'topology:snapshot'
  | 'topology:changed'
  | 'topology:degraded'
  | 'topology:recovered'
  | 'topology:scale-needed'

/** Options of a standalone {@link TopologyMonitor}. */
export interface TopologyMonitorOptions {
  /** Time between the end of one poll and the start of the next. @default '5s' */
  pollInterval?: Duration
  /** Upper bound on one poll (every node is asked in parallel). @default pollInterval, within 1s..5s */
  timeout?: Duration
  /** `used_memory / maxmemory` above which a primary counts toward a scale signal. @default 0.75 */
  scaleRatio?: number
  /** Polls in a row above `scaleRatio` before `topology:scale-needed`. @default 3 */
  scalePolls?: number
  /** Receives the `topology:*` events. */
  emit?: <E extends TopologyEventName>(event: E, payload: CacheEvents[E]) => void
  /** Receives coded errors: nodes that did not answer, commands the server refused. Never thrown. */
  onError?: (error: CacheError) => void
}

const SLOTS = 16_384
type Conn = NodeConnection
type Answer = { ok: true; text: string } | { ok: false; refused: boolean; error: unknown }

/** What a refused command costs, and the ACL rule that grants it. */
const COMMANDS = {
  'INFO memory': {
    args: ['INFO', 'memory'],
    acl: '+info',
    without: 'memory figures are unknown: no scale signal, and the write guard lets every write through',
  },
  'CLUSTER INFO': {
    args: ['CLUSTER', 'INFO'],
    acl: '+cluster|info',
    without: 'cluster_state and failed-slot counts are derived from CLUSTER NODES flags instead',
  },
  'CLUSTER NODES': {
    args: ['CLUSTER', 'NODES'],
    acl: '+cluster|nodes',
    without: "nodes, roles and slots come from the client's own slot map (dead nodes are not listed)",
  },
} as const
type Command = keyof typeof COMMANDS

/** What a {@link TopologyMonitor} polls: an ioredis/iovalkey Redis or Cluster, or a connected node-redis 5 client. */
export type TopologyClient = Redis | Cluster | IoredisInstance | NodeRedisInstance

/**
 * Polls a Redis or Redis Cluster through the client the cache already uses: `CLUSTER NODES`
 * from one node, then `INFO memory` (and `CLUSTER INFO` on primaries) on every node in
 * parallel. Keeps the latest snapshot for the write guard and emits `topology:*` events.
 * Polls never overlap, each is bounded by `timeout`, the timer is unref'd, and nothing here
 * throws: failures become `onError` calls and an unreachable node in the snapshot.
 */
export class TopologyMonitor {
  /** Time between polls, in ms. */
  readonly pollInterval: number
  /** Upper bound of one poll, in ms. */
  readonly timeout: number
  /** Memory ratio above which a primary counts toward `topology:scale-needed`. */
  readonly scaleRatio: number
  /** Polls in a row above scaleRatio before `topology:scale-needed`. */
  readonly scalePolls: number
  readonly #client: Client
  readonly #cluster: boolean
  readonly #emit: NonNullable<TopologyMonitorOptions['emit']>
  readonly #onError: (error: CacheError) => void
  #snapshot: TopologySnapshot | undefined
  #signature = ''
  /** slot -> index + 1 into #snapshot.nodes of its primary (0: unassigned). Cluster only. */
  #owners: Uint16Array | undefined
  #degraded = false
  #polls = 0
  /** Primary id -> consecutive polls above scaleRatio. */
  readonly #over = new Map<string, number>()
  /** Commands the server refused, reported once until they work again. */
  readonly #refused = new Set<Command>()
  /** Node ids learnt with CLUSTER MYID, for connections whose address differs (natMap). */
  readonly #ids = new Map<string, string>()
  /** Live nodes without a client connection at the last poll (sorted ids). */
  #missing = ''
  /** Addresses that did not answer the last poll. */
  #failing = ''
  #timer: NodeJS.Timeout | undefined
  #running: Promise<TopologySnapshot | undefined> | undefined
  #stopped = false

  /** @param client an ioredis/iovalkey Redis or Cluster, or a connected node-redis 5 client */
  constructor(client: TopologyClient, options: TopologyMonitorOptions = {}) {
    // createCache hands in its own client seam (store/client.ts), which is used as it is.
    const given: unknown = client
    this.#client = isSeam(given) ? given : adaptClient(client)
    this.#cluster = this.#client.cluster
    this.pollInterval =
      options.pollInterval === undefined ? 5_000 : toMs(options.pollInterval, 'pollInterval')
    if (this.pollInterval < 10)
      throw new InvalidOptionError('pollInterval', 'a duration of at least 10ms', options.pollInterval)
    this.timeout =
      options.timeout === undefined
        ? Math.min(5_000, Math.max(1_000, this.pollInterval))
        : toMs(options.timeout, 'timeout')
    if (this.timeout < 1)
      throw new InvalidOptionError('timeout', 'a duration of at least 1ms', options.timeout)
    this.scaleRatio = ratio(options.scaleRatio ?? 0.75, 'scaleRatio')
    this.scalePolls = options.scalePolls ?? 3
    if (!Number.isInteger(this.scalePolls) || this.scalePolls < 1)
      throw new InvalidOptionError('scalePolls', 'an integer >= 1', options.scalePolls)
    this.#emit = options.emit ?? (() => {})
    this.#onError = options.onError ?? (() => {})
  }

  /** The latest snapshot, undefined before the first poll completes. */
  get snapshot(): TopologySnapshot | undefined {
    return this.#snapshot
  }

  /** Polls completed so far. */
  get polls(): number {
    return this.#polls
  }

  /** Whether the last poll found the deployment degraded. */
  get degraded(): boolean {
    return this.#degraded
  }

  /** Start polling now, then every pollInterval. Idempotent. */
  start(): this {
    if (this.#timer === undefined && !this.#stopped) this.#schedule(0)
    return this
  }

  /** Poll now (or join the poll in flight). Resolves to the new snapshot; never rejects. */
  refresh(): Promise<TopologySnapshot | undefined> {
    if (this.#running !== undefined) return this.#running
    if (this.#stopped) return Promise.resolve(this.#snapshot)
    const p = this.#poll()
      .catch((err: unknown) => {
        if (this.#stopped) return this.#snapshot
        this.#onError(new StoreUnavailableError(`Topology poll failed: ${String(err)}`, { cause: err }))
        return this.#snapshot
      })
      .finally(() => {
        this.#running = undefined
      })
    this.#running = p
    return p
  }

  /**
   * Stop polling. Does not wait for a poll in flight (a dead Redis would hold a shutdown for the
   * whole timeout): that poll's result is dropped and it emits nothing.
   */
  stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    return Promise.resolve()
  }

  /** The primary serving `key`'s slot in the latest snapshot (the one node when standalone). */
  nodeForKey(key: string): TopologyNode | undefined {
    const snap = this.#snapshot
    if (snap === undefined) return undefined
    if (this.#owners === undefined) return snap.nodes[0]
    const i = this.#owners[keySlot(key)] ?? 0
    return i === 0 ? undefined : snap.nodes[i - 1]
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      void this.refresh().then(() => {
        if (!this.#stopped) this.#schedule(this.pollInterval)
      })
    }, ms)
    this.#timer.unref()
  }

  async #poll(): Promise<TopologySnapshot | undefined> {
    const deadline = Date.now() + this.timeout
    await this.#ready(deadline)
    const failures: string[] = []
    const snapshot = this.#cluster
      ? await this.#pollCluster(deadline, failures)
      : await this.#pollStandalone(deadline, failures)
    if (this.#stopped) return this.#snapshot
    // Reported when the set of silent nodes changes, not every poll while one stays down
    // (the snapshot and topology:degraded carry the state).
    const failing = failures.map((f) => f.slice(0, f.indexOf(': '))).join(',')
    if (failures.length > 0 && failing !== this.#failing) {
      const message = `Topology poll: ${failures.length} node(s) did not answer: ${failures.slice(0, 3).join('; ')}`
      this.#onError(new StoreUnavailableError(message))
    }
    this.#failing = failing
    this.#publish(snapshot)
    return snapshot
  }

  /** Give a client that is still connecting a chance (bounded) before asking it anything. */
  async #ready(deadline: number): Promise<void> {
    const client = this.#client
    if (client.status === 'ready' || client.status === 'end') return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        client.off('ready', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, Math.min(deadline - Date.now(), this.timeout / 2)))
      client.on('ready', done)
    })
  }

  async #pollStandalone(deadline: number, failures: string[]): Promise<TopologySnapshot> {
    const [conn] = this.#client.primaries()
    const address = conn?.address ?? this.#client.address
    const answer =
      conn === undefined
        ? ({ ok: false, refused: false, error: new Error('no connection') } as const)
        : await this.#ask(conn, 'INFO memory', deadline)
    const reachable = answer.ok || answer.refused
    if (!answer.ok && !answer.refused) failures.push(`${address}: ${describe(answer.error)}`)
    const node = this.#node(
      { id: address, address, role: 'primary', primaryId: undefined, slots: [[0, SLOTS - 1]] },
      answer.ok ? parseInfo(answer.text) : undefined,
      reachable,
    )
    return {
      at: Date.now(),
      mode: 'standalone',
      state: reachable ? 'ok' : 'fail',
      slotsAssigned: SLOTS,
      slotsFail: 0,
      slotsPfail: 0,
      nodes: [node],
    }
  }

  async #pollCluster(deadline: number, failures: string[]): Promise<TopologySnapshot> {
    const client = this.#client
    const conns = client.nodes()
    const primaries = new Set(client.primaries().map((c) => c.address))
    // Primaries first: they are the ones that must answer anyway.
    const ordered = [...conns].sort(
      (a, b) => Number(primaries.has(b.address)) - Number(primaries.has(a.address)),
    )
    let lines: ClusterNodeLine[] | undefined
    for (const conn of ordered) {
      if (Date.now() >= deadline) break
      // A frozen node gets a third of the budget, not all of it: the rest of the poll needs time.
      const attempt = Math.min(deadline, Date.now() + this.timeout / 3)
      const answer = await this.#ask(conn, 'CLUSTER NODES', attempt)
      if (answer.ok) {
        lines = parseClusterNodes(answer.text)
        break
      }
      if (answer.refused) break // the same ACL applies on every node
    }
    lines ??= this.#fromClientSlots(client)

    const byAddress = new Map<string, Conn>()
    for (const conn of conns) byAddress.set(conn.address, conn)
    const unmatched = conns.filter((c) => !lines.some((l) => l.address === c.address))
    const byId = await this.#idsOf(unmatched, deadline)

    const missing: string[] = []
    const results = await Promise.all(
      lines.map(async (line) => {
        const conn = byAddress.get(line.address) ?? byId.get(line.id)
        if (conn === undefined) {
          // The client holds no connection to it (ioredis drops the connection of a node that
          // died): go by the cluster's flags, but never call a node reachable again on them
          // alone once a poll failed to reach it; the flags lag a death by cluster-node-timeout.
          const alive = !line.failed && !line.suspected
          if (alive) missing.push(line.id)
          const before = this.#snapshot?.nodes.find((n) => n.id === line.id)
          return { line, memory: undefined, info: undefined, reachable: alive && before?.reachable !== false }
        }
        const owner = line.role === 'primary' && line.slots.length > 0
        const [memory, info] = await Promise.all([
          this.#ask(conn, 'INFO memory', deadline),
          owner ? this.#ask(conn, 'CLUSTER INFO', deadline) : undefined,
        ])
        const reachable = memory.ok || memory.refused
        if (!reachable) failures.push(`${line.address}: ${describe(memory.error)}`)
        return {
          line,
          memory: memory.ok ? parseInfo(memory.text) : undefined,
          info: info?.ok === true ? parseInfo(info.text) : undefined,
          reachable,
        }
      }),
    )
    // A live node the client has no connection to (a restarted node that rejoined): one shared
    // slot-map refresh lets ioredis connect to it (concurrent refreshes are coalesced by ioredis).
    // Not every poll: Redis 7 leaves replicas that never received data out of CLUSTER SLOTS, so
    // some stay unconnected; once per new set of such nodes, then every 10th poll.
    const missingKey = missing.sort().join(',')
    if (missingKey !== this.#missing || (missingKey !== '' && this.#polls % 10 === 0)) {
      this.#missing = missingKey
      if (missingKey !== '' && client.status === 'ready') client.refreshSlots()
    }

    const nodes = results.map((r) => this.#node(r.line, r.memory, r.reachable))
    // Cluster figures from every slot-owning primary that answered, worst case wins.
    const infos = results.flatMap((r) => (r.info === undefined ? [] : [r.info]))
    const owned = lines.filter((l) => l.role === 'primary')
    const derived = {
      assigned: countSlots(mergeRanges(owned.flatMap((l) => l.slots))),
      fail: countSlots(owned.filter((l) => l.failed).flatMap((l) => l.slots)),
      pfail: countSlots(owned.filter((l) => l.suspected).flatMap((l) => l.slots)),
    }
    let state: TopologySnapshot['state'] = 'unknown'
    let slotsAssigned = derived.assigned
    let slotsFail = derived.fail
    let slotsPfail = derived.pfail
    if (infos.length > 0) {
      state = infos.every((i) => i.get('cluster_state') === 'ok') ? 'ok' : 'fail'
      slotsAssigned = Math.min(...infos.map((i) => infoNumber(i, 'cluster_slots_assigned')))
      slotsFail = Math.max(...infos.map((i) => infoNumber(i, 'cluster_slots_fail')))
      slotsPfail = Math.max(...infos.map((i) => infoNumber(i, 'cluster_slots_pfail')))
    } else if (nodes.some((n) => n.reachable && n.role === 'primary')) {
      // CLUSTER INFO refused everywhere: judge from the flags CLUSTER NODES carries.
      state = derived.fail > 0 || derived.assigned < SLOTS ? 'fail' : 'ok'
    }
    return { at: Date.now(), mode: 'cluster', state, slotsAssigned, slotsFail, slotsPfail, nodes }
  }

  /** CLUSTER NODES refused: the client's own slot map (primary first, then replicas, per slot). */
  #fromClientSlots(client: Client): ClusterNodeLine[] {
    const byAddress = new Map<string, ClusterNodeLine>()
    const slots = client.slotMap()
    for (let s = 0; s < slots.length; s++) {
      const keys = slots[s]
      if (keys === undefined) continue
      keys.forEach((address, i) => {
        let line = byAddress.get(address)
        if (line === undefined) {
          line = {
            id: address,
            address,
            flags: [],
            role: i === 0 ? 'primary' : 'replica',
            primaryId: i === 0 ? undefined : keys[0],
            failed: false,
            suspected: false,
            slots: [],
          }
          byAddress.set(address, line)
        }
        if (i === 0) line.slots.push([s, s])
      })
    }
    const lines = [...byAddress.values()]
    for (const l of lines) l.slots = mergeRanges(l.slots)
    if (lines.length > 0) return lines
    // Nothing known at all: keep listing what the last snapshot saw.
    return (this.#snapshot?.nodes ?? []).map((n) => ({
      id: n.id,
      address: n.address,
      flags: [],
      role: n.role,
      primaryId: n.primaryId,
      failed: false,
      suspected: false,
      slots: n.slots,
    }))
  }

  /** Node ids of connections whose address CLUSTER NODES does not list (NAT); cached per connection. */
  async #idsOf(conns: Conn[], deadline: number): Promise<Map<string, Conn>> {
    const out = new Map<string, Conn>()
    await Promise.all(
      conns.map(async (conn) => {
        let id = this.#ids.get(conn.address)
        if (id === undefined) {
          const answer = await this.#call(conn, ['CLUSTER', 'MYID'], deadline)
          if (!answer.ok) return
          id = answer.text.trim()
          this.#ids.set(conn.address, id)
        }
        out.set(id, conn)
      }),
    )
    return out
  }

  #node(
    line: Pick<ClusterNodeLine, 'id' | 'address' | 'role' | 'primaryId' | 'slots'>,
    memory: Map<string, string> | undefined,
    reachable: boolean,
  ): TopologyNode {
    // A node that did not answer keeps its last known figures: the write guard stays careful.
    const last = memory === undefined ? this.#snapshot?.nodes.find((n) => n.id === line.id) : undefined
    const usedMemory = memory === undefined ? (last?.usedMemory ?? 0) : infoNumber(memory, 'used_memory')
    const maxMemory = memory === undefined ? (last?.maxMemory ?? 0) : infoNumber(memory, 'maxmemory')
    const node: TopologyNode = {
      id: line.id,
      address: line.address,
      role: line.role,
      slots: line.role === 'primary' ? mergeRanges(line.slots) : [],
      usedMemory,
      maxMemory,
      memoryRatio: maxMemory > 0 ? usedMemory / maxMemory : 0,
      fragmentationRatio:
        memory === undefined
          ? (last?.fragmentationRatio ?? 0)
          : infoNumber(memory, 'mem_fragmentation_ratio'),
      rss: memory === undefined ? (last?.rss ?? 0) : infoNumber(memory, 'used_memory_rss'),
      reachable,
    }
    if (line.primaryId !== undefined) node.primaryId = line.primaryId
    return node
  }

  /** Install a snapshot and emit what changed. */
  #publish(snapshot: TopologySnapshot): void {
    const previous = this.#snapshot
    this.#snapshot = snapshot
    this.#polls++
    this.#owners = snapshot.mode === 'cluster' ? ownersOf(snapshot) : undefined
    this.#emit('topology:snapshot', { snapshot })

    const signature = signatureOf(snapshot)
    if (signature !== this.#signature) {
      this.#signature = signature
      this.#emit('topology:changed', { snapshot, previous })
    }

    const reasons = degradedReasons(snapshot)
    if (reasons.length > 0 && !this.#degraded) {
      this.#degraded = true
      this.#emit('topology:degraded', { snapshot, reasons })
    } else if (reasons.length === 0 && this.#degraded) {
      this.#degraded = false
      this.#emit('topology:recovered', { snapshot })
    }

    const seen = new Set<string>()
    for (const node of snapshot.nodes) {
      if (node.role !== 'primary' || node.maxMemory === 0) continue
      seen.add(node.id)
      if (!node.reachable) continue // no new figure: neither a strike nor a reset
      if (node.memoryRatio <= this.scaleRatio) {
        this.#over.delete(node.id)
        continue
      }
      const polls = (this.#over.get(node.id) ?? 0) + 1
      this.#over.set(node.id, polls)
      if (polls === this.scalePolls) this.#emit('topology:scale-needed', { snapshot, node, polls })
    }
    for (const id of this.#over.keys()) if (!seen.has(id)) this.#over.delete(id)
  }

  /** One of the monitored commands; a refusal is reported once (until it works again). */
  async #ask(conn: Conn, command: Command, deadline: number): Promise<Answer> {
    const { args, acl, without } = COMMANDS[command]
    const answer = await this.#call(conn, args, deadline)
    if (answer.ok) this.#refused.delete(command)
    else if (answer.refused && !this.#refused.has(command) && !this.#stopped) {
      this.#refused.add(command)
      const reason = answer.error instanceof Error ? answer.error.message : String(answer.error)
      this.#onError(
        new StoreUnavailableError(
          `Topology monitor: Redis refused ${command} (${reason}); ${without}. ` +
            `Grant it to the cache's ACL user (ACL SETUSER <user> ${acl}).`,
          { cause: answer.error },
        ),
      )
    }
    return answer
  }

  async #call(conn: Conn, args: readonly string[], deadline: number): Promise<Answer> {
    const ms = deadline - Date.now()
    if (ms <= 0)
      return { ok: false, refused: false, error: new StoreTimeoutError(args.join(' '), this.timeout) }
    let timer: NodeJS.Timeout | undefined
    try {
      const text = await Promise.race([
        conn.text(args),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreTimeoutError(args.join(' '), this.timeout)), ms)
        }),
      ])
      return { ok: true, text }
    } catch (error) {
      // A reply error (NOPERM, unknown or renamed command) means the node is up but says no.
      return { ok: false, refused: isReplyError(error), error }
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Why a snapshot counts as degraded; empty when it does not. */
export function degradedReasons(snapshot: TopologySnapshot): string[] {
  const reasons: string[] = []
  if (!snapshot.nodes.some((n) => n.reachable)) reasons.push('no node answered')
  if (snapshot.state === 'fail')
    reasons.push(snapshot.mode === 'cluster' ? 'cluster_state:fail' : 'unreachable')
  if (snapshot.slotsFail > 0) reasons.push(`${snapshot.slotsFail} slots in FAIL state`)
  if (snapshot.mode === 'cluster' && snapshot.slotsAssigned < SLOTS)
    reasons.push(`${SLOTS - snapshot.slotsAssigned} slots unassigned`)
  for (const n of snapshot.nodes) {
    if (n.role === 'primary' && n.slots.length > 0 && !n.reachable)
      reasons.push(`primary ${n.address} (${countSlots(n.slots)} slots) unreachable`)
  }
  return reasons
}

function signatureOf(s: TopologySnapshot): string {
  return s.nodes
    .map((n) => `${n.id}@${n.address} ${n.role}>${n.primaryId ?? '-'} ${n.slots.join(',')} ${n.reachable}`)
    .sort()
    .join('\n')
}

function ownersOf(s: TopologySnapshot): Uint16Array {
  const owners = new Uint16Array(SLOTS)
  s.nodes.forEach((n, i) => {
    if (n.role !== 'primary') return
    for (const [a, b] of n.slots) owners.fill(i + 1, a, b + 1)
  })
  return owners
}

function ratio(v: unknown, name: string): number {
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw new InvalidOptionError(name, 'a number in (0, 1]', v)
  return v
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Already the seam (cache.ts hands its own), rather than a user's client instance. */
function isSeam(c: unknown): c is Client {
  return (
    typeof (c as { evalScript?: unknown }).evalScript === 'function' &&
    typeof (c as { library?: unknown }).library === 'string'
  )
}
