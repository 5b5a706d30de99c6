import type { RedisOptions } from 'ioredis'

/** How a check came out: `ok`, `warn`, `fail`, or `skipped` (it could not run). */
export type Severity = 'ok' | 'warn' | 'fail' | 'skipped'

/** Stable ids of every check `herdless doctor` runs; safe to switch on in scripts. */
export type CheckId =
  | 'maxmemory'
  | 'maxmemory-policy'
  | 'maxmemory-samples'
  | 'memory-usage'
  | 'fragmentation'
  | 'keyspace-miss-ratio'
  | 'node-reachable'
  | 'cluster-mode'
  | 'cluster-discovery'
  | 'cluster-require-full-coverage'
  | 'cluster-state'
  | 'cluster-slots'
  | 'cluster-replicas'
  | 'cluster-replica-placement'
  | 'cluster-slot-balance'

/** One check's result on one node (or the cluster). */
export interface Finding {
  /** Which check. */
  id: CheckId
  /** How it came out. */
  severity: Severity
  /** `host:port` of the node the finding is about; absent for cluster-wide findings. */
  node?: string
  /** What the server reported, human-readable. `unknown` when skipped. */
  measured: string
  /**
   * The measured numbers themselves (bytes, ratios, counts), for scripts reading `--json`:
   * e.g. `{ usedMemory: 104857600, maxmemory: 134217728, ratio: 0.78 }`. Absent when skipped.
   */
  values?: Record<string, number>
  /** What a cache deployment should have. */
  expected: string
  /** The redis.conf line (or the command) that fixes it; null when nothing needs to change. */
  fix: string | null
  /** The same fix applied at runtime (`CONFIG SET ...`); null when there is no runtime form. */
  fixCommand: string | null
  /** Why the check could not run (ACL denial, node unreachable, ...). Set on `skipped` findings. */
  reason?: string
}

/** How many findings of each severity. */
export interface SeveritySummary {
  /** Checks that passed. */
  ok: number
  /** Warnings. */
  warn: number
  /** Failures. */
  fail: number
  /** Checks that could not run. */
  skipped: number
}

/** What `runDoctor()` returns (and `herdless doctor --json` prints). */
export interface DoctorReport {
  /** The audited URL with any password replaced by `***`. */
  target: string
  /** What the seed server is (its `cluster_enabled`), whatever `--cluster` said. */
  mode: 'standalone' | 'cluster'
  /** A cluster audited node by node (`--cluster`); false when a cluster node was audited alone. */
  wholeCluster: boolean
  /** Every node audited (`host:port`), seed first. */
  nodes: string[]
  /** Ordered fail, warn, skipped, ok; within a severity in the order checks ran. */
  findings: Finding[]
  /** Counts per severity. */
  summary: SeveritySummary
  /** `--strict`: warnings fail the run too. */
  strict: boolean
  /**
   * What `herdless doctor` exits with: 1 when any finding failed (with `strict`, also any
   * warning), else 0. Skipped checks never fail the run.
   */
  exitCode: 0 | 1
}

/**
 * Limits the doctor judges against. Every field has a default in `DEFAULT_THRESHOLDS`;
 * pass a partial object to `runDoctor` to override some.
 */
export interface DoctorThresholds {
  /** Warn below this `maxmemory-samples`. @default 10 */
  minMaxmemorySamples: number
  /** Warn when `used_memory / maxmemory` is above this. @default 0.75 */
  memoryWarnRatio: number
  /** Fail when `used_memory / maxmemory` is above this. @default 0.85 */
  memoryFailRatio: number
  /** Warn when `mem_fragmentation_ratio` is above this and `activedefrag` is off. @default 1.2 */
  fragmentationWarnRatio: number
  /**
   * Fragmentation is not judged below this `used_memory` (bytes): a fresh server holding a few
   * MB reports ratios of 3-10 because its RSS is mostly allocator overhead, not fragmentation.
   * @default 64 MiB
   */
  fragmentationMinUsedMemory: number
  /** Warn when `misses / (hits + misses)` is above this. @default 0.3 */
  missRatioWarn: number
  /** The miss ratio is not judged with fewer lookups than this since the last stats reset. @default 1000 */
  missRatioMinLookups: number
  /** Warn when the busiest primary holds more than this many times the slots of the idlest. @default 1.2 */
  slotBalanceWarnRatio: number
}

/** How the CLI connects to each node. */
export interface ConnectOptions {
  /**
   * ioredis options applied to every connection (the seed and, with a cluster, each node):
   * `tls`, `username`, `password`, ... They override what the URL says.
   */
  redisOptions?: RedisOptions
  /** Connect and per-command timeout for each node, in ms. @default 5000 */
  timeoutMs?: number
}

/** Options of `runDoctor()`. */
export interface DoctorOptions extends ConnectOptions {
  /** Discover every node from the seed (CLUSTER NODES) and audit each one directly. @default false */
  cluster?: boolean
  /** Warnings fail the run too (`exitCode` 1), for CI gates before a deployment. @default false */
  strict?: boolean
  /** Limits to judge against; unset fields keep DEFAULT_THRESHOLDS. */
  thresholds?: Partial<DoctorThresholds>
}

/** Options of `readTopology()`. */
export type TopologyOptions = ConnectOptions

/** An inclusive slot range, `[start, end]`. */
export type SlotRange = [number, number]

/** One node in `herdless topology`'s report. */
export interface TopologyNode {
  /** The cluster node id (standalone: the server's `run_id`); null when unknown. */
  id: string | null
  /** `host:port`. */
  addr: string
  /**
   * `failed`: the cluster flagged the node `fail` (a majority of primaries agreed), e.g. a dead
   * former primary after a failover; it serves nothing, whatever role it last announced.
   */
  role: 'primary' | 'replica' | 'failed' | 'unknown'
  /** For a replica: its primary's id and address. */
  primaryId: string | null
  /** For a replica: its primary's address. */
  primaryAddr: string | null
  /** Cluster flags other than `myself`/`master`/`slave`, e.g. `fail`, `pfail`, `nofailover`. */
  flags: string[]
  /** Slot ranges served (primaries). */
  slots: SlotRange[]
  /** How many slots that is. */
  slotCount: number
  /** `used_memory` in bytes; null when unknown. */
  usedMemory: number | null
  /** `maxmemory` in bytes (0: unset); null when unknown. */
  maxmemory: number | null
  /** `usedMemory / maxmemory`; null when maxmemory is 0 or unknown. */
  memoryRatio: number | null
  /** A replica's `master_link_status`. */
  linkStatus: 'up' | 'down' | null
  /** The node's replication offset (`master_repl_offset` or `slave_repl_offset`). */
  replOffset: number | null
  /** Bytes a replica is behind its primary (primary offset minus replica offset). */
  replLag: number | null
  /** Set when the node could not be reached or queried. */
  error: string | null
}

/** What `readTopology()` returns (and `herdless topology --json` prints). */
export interface TopologyReport {
  /** The URL given, with any password replaced by `***`. */
  target: string
  /** What the seed server is. */
  mode: 'standalone' | 'cluster'
  /** `cluster_state` as the seed sees it; null for a standalone server. */
  clusterState: string | null
  /** Slots owned by primaries, per CLUSTER NODES; null for a standalone server. */
  slotsAssigned: number | null
  /** Primaries first (by first slot), each followed by its replicas. */
  nodes: TopologyNode[]
}
