import { checkCluster, checkNode, DEFAULT_THRESHOLDS } from './checks'
import {
  type ClusterMember,
  type NodeSnapshot,
  readClusterNodes,
  snapshotCluster,
  snapshotNode,
} from './collect'
import { openConnection, parseRedisUrl, redactUrl } from './connection'
import type { DoctorOptions, DoctorReport, Finding, Severity, SeveritySummary } from './types'

const SEVERITY_ORDER: Record<Severity, number> = { fail: 0, warn: 1, skipped: 2, ok: 3 }

/**
 * Audits a live deployment. Standalone: the one server behind `url`. With `cluster: true`:
 * every node the seed's CLUSTER NODES lists, each over its own connection, plus the
 * cluster-wide checks (slots, replicas, placement, balance).
 *
 * Throws ConnectionError only when the seed itself cannot be reached; everything after that
 * (an unreachable node, a denied CONFIG GET) becomes a finding.
 */
export async function runDoctor(url: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  const target = parseRedisUrl(url)
  const thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds }
  const open = { redisOptions: options.redisOptions, timeoutMs: options.timeoutMs }
  const client = await openConnection(target, target.host, target.port, open)

  let findings: Finding[]
  let audited: NodeSnapshot[]
  // What the server is, not what the flag said (null: INFO was denied, so the flag decides).
  let clusterEnabled: boolean | null = null
  try {
    const wantCluster = options.cluster === true
    const seed = await snapshotNode(client, target.host, target.port, wantCluster)
    clusterEnabled = seed.info.ok ? seed.info.value.get('cluster_enabled') === '1' : null
    if (!wantCluster) {
      audited = [seed]
      findings = checkNode(seed, { thresholds, nodesOnHost: 1, cluster: false })
      if (clusterEnabled === true) {
        findings.push({
          id: 'cluster-mode',
          severity: 'warn',
          node: seed.addr,
          measured: 'cluster_enabled:1, audited this node only',
          expected: 'audit every node of a cluster',
          fix: `herdless doctor ${redactUrl(url)} --cluster`,
          fixCommand: null,
        })
      }
    } else {
      const entries = await readClusterNodes(client)
      if (!entries.ok || entries.value.length === 0) {
        audited = [seed]
        findings = checkNode(seed, { thresholds, nodesOnHost: 1, cluster: clusterEnabled === true })
        const disabled = !entries.ok && /cluster support disabled/i.test(entries.reason)
        findings.push(
          disabled
            ? {
                id: 'cluster-mode',
                severity: 'fail',
                node: seed.addr,
                measured: 'cluster_enabled:0 (a standalone server)',
                expected: 'a Redis Cluster node (--cluster was given)',
                fix: 'drop --cluster, or start the servers with: cluster-enabled yes',
                fixCommand: null,
              }
            : {
                id: 'cluster-discovery',
                severity: 'skipped',
                node: seed.addr,
                measured: 'unknown',
                expected: 'CLUSTER NODES lists the cluster',
                fix: null,
                fixCommand: null,
                reason: entries.ok
                  ? 'CLUSTER NODES returned no nodes'
                  : `CLUSTER NODES failed: ${entries.reason}`,
              },
        )
      } else {
        const members = await snapshotCluster(target, entries.value, seed, open)
        audited = orderSeedFirst(members, seed)
        findings = []
        const perHost = countByHost(members)
        for (const member of members) {
          findings.push(
            ...checkNode(member.snapshot, {
              thresholds,
              nodesOnHost: perHost.get(member.entry.host) ?? 1,
              cluster: true,
            }),
          )
        }
        const seedSnapshot = members.find((m) => m.entry.myself)?.snapshot ?? seed
        findings.push(...checkCluster(members, seedSnapshot, thresholds))
      }
    }
  } finally {
    client.disconnect()
  }

  const sorted = findings
    .map((finding, index) => ({ finding, index }))
    .sort(
      (a, b) => SEVERITY_ORDER[a.finding.severity] - SEVERITY_ORDER[b.finding.severity] || a.index - b.index,
    )
    .map(({ finding }) => finding)
  const summary = summarize(sorted)
  const mode = (clusterEnabled ?? options.cluster === true) ? 'cluster' : 'standalone'
  const strict = options.strict === true
  return {
    target: redactUrl(url),
    mode,
    wholeCluster: mode === 'cluster' && options.cluster === true,
    nodes: audited.map((s) => s.addr),
    findings: sorted,
    summary,
    strict,
    exitCode: summary.fail > 0 || (strict && summary.warn > 0) ? 1 : 0,
  }
}

/** Counts per severity of these findings. */
export function summarize(findings: Finding[]): SeveritySummary {
  const summary: SeveritySummary = { ok: 0, warn: 0, fail: 0, skipped: 0 }
  for (const finding of findings) summary[finding.severity]++
  return summary
}

function countByHost(members: ClusterMember[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const { entry } of members) counts.set(entry.host, (counts.get(entry.host) ?? 0) + 1)
  return counts
}

function orderSeedFirst(members: ClusterMember[], seed: NodeSnapshot): NodeSnapshot[] {
  const seedMember = members.find((m) => m.entry.myself)
  const rest = members.filter((m) => m !== seedMember).map((m) => m.snapshot)
  return seedMember === undefined ? [seed, ...rest] : [seedMember.snapshot, ...rest]
}
