import { countSlots } from '@herdless/core/tools'
import type { ClusterMember, NodeSnapshot } from './collect'
import { formatBytes, formatConfigBytes, formatRatio } from './format-values'
import { infoValue } from './nodes'
import type { DoctorThresholds, Finding } from './types'

/** The limits `herdless doctor` judges against; see DoctorThresholds for why each one. */
export const DEFAULT_THRESHOLDS: DoctorThresholds = {
  minMaxmemorySamples: 10,
  memoryWarnRatio: 0.75,
  memoryFailRatio: 0.85,
  fragmentationWarnRatio: 1.2,
  fragmentationMinUsedMemory: 64 * 1024 * 1024,
  missRatioWarn: 0.3,
  missRatioMinLookups: 1000,
  slotBalanceWarnRatio: 1.2,
}

export const CLUSTER_SLOTS = 16384

const LFU_POLICIES = new Set(['allkeys-lfu', 'volatile-lfu'])

export interface NodeCheckContext {
  thresholds: DoctorThresholds
  /** How many audited nodes share this node's host: the suggested maxmemory splits the RAM between them. */
  nodesOnHost: number
  /** Auditing a cluster: also check cluster-require-full-coverage and cluster_state. */
  cluster: boolean
}

function configFix(name: string, value: string): Pick<Finding, 'fix' | 'fixCommand'> {
  return { fix: `${name} ${value}`, fixCommand: `CONFIG SET ${name} ${value}` }
}

const NO_FIX = { fix: null, fixCommand: null } as const

function skipped(id: Finding['id'], node: string, expected: string, reason: string): Finding {
  return { id, severity: 'skipped', node, measured: 'unknown', expected, ...NO_FIX, reason }
}

/** 75% of the host's RAM split between the audited nodes on it, in whole MB; 1gb when unknown. */
function suggestedMaxmemory(snapshot: NodeSnapshot, nodesOnHost: number): string {
  const info = snapshot.info.ok ? snapshot.info.value : null
  const total = infoValue(info, 'total_system_memory')
  if (total === null || total <= 0) return '1gb'
  return formatConfigBytes((total * 0.75) / Math.max(1, nodesOnHost))
}

/** Every per-node check; an unreachable node yields a single `node-reachable` failure. */
export function checkNode(snapshot: NodeSnapshot, context: NodeCheckContext): Finding[] {
  const node = snapshot.addr
  if (snapshot.connectError !== null) {
    return [
      {
        id: 'node-reachable',
        severity: 'fail',
        node,
        measured: snapshot.connectError,
        expected: 'the node answers PING',
        fix: 'bring the node back, or remove it: redis-cli --cluster del-node <seed> <node-id>',
        fixCommand: null,
      },
    ]
  }
  const findings = [
    checkMaxmemory(snapshot, context),
    checkPolicy(snapshot),
    checkSamples(snapshot, context.thresholds),
    checkMemoryUsage(snapshot, context.thresholds),
    checkFragmentation(snapshot, context.thresholds),
    checkMissRatio(snapshot, context.thresholds),
  ]
  if (context.cluster) findings.push(checkFullCoverage(snapshot), checkNodeClusterState(snapshot))
  return findings
}

/** INFO memory carries maxmemory and the policy too, so a denied CONFIG GET does not blind these two. */
function readSetting(snapshot: NodeSnapshot, infoName: string, configName: 'maxmemory' | 'maxmemory-policy') {
  const fromInfo = snapshot.info.ok ? snapshot.info.value.get(infoName) : undefined
  if (fromInfo !== undefined) return fromInfo
  if (snapshot.config.ok && snapshot.config.value[configName] !== undefined)
    return snapshot.config.value[configName]
  return undefined
}

function unreadable(snapshot: NodeSnapshot): string {
  const reasons = new Set<string>()
  if (!snapshot.info.ok) reasons.add(`INFO failed: ${snapshot.info.reason}`)
  if (!snapshot.config.ok) reasons.add(`CONFIG GET failed: ${snapshot.config.reason}`)
  return reasons.size > 0 ? [...reasons].join('; ') : 'not reported by this server'
}

function checkMaxmemory(snapshot: NodeSnapshot, context: NodeCheckContext): Finding {
  const node = snapshot.addr
  const expected = '> 0'
  const raw = readSetting(snapshot, 'maxmemory', 'maxmemory')
  const value = raw === undefined ? Number.NaN : Number(raw)
  if (!Number.isFinite(value)) return skipped('maxmemory', node, expected, unreadable(snapshot))
  if (value === 0) {
    return {
      id: 'maxmemory',
      severity: 'fail',
      node,
      measured: '0 (no limit)',
      values: { maxmemory: 0 },
      expected,
      ...configFix('maxmemory', suggestedMaxmemory(snapshot, context.nodesOnHost)),
    }
  }
  const values = { maxmemory: value }
  return { id: 'maxmemory', severity: 'ok', node, measured: formatBytes(value), values, expected, ...NO_FIX }
}

function checkPolicy(snapshot: NodeSnapshot): Finding {
  const node = snapshot.addr
  const expected = 'allkeys-lfu or volatile-lfu'
  const policy = readSetting(snapshot, 'maxmemory_policy', 'maxmemory-policy')
  if (policy === undefined) return skipped('maxmemory-policy', node, expected, unreadable(snapshot))
  if (LFU_POLICIES.has(policy)) {
    return { id: 'maxmemory-policy', severity: 'ok', node, measured: policy, expected, ...NO_FIX }
  }
  const fix = configFix('maxmemory-policy', 'allkeys-lfu')
  if (policy === 'noeviction') {
    return {
      id: 'maxmemory-policy',
      severity: 'fail',
      node,
      measured: 'noeviction (writes fail when full)',
      expected,
      ...fix,
    }
  }
  // *-lru, *-random, volatile-ttl: evicts, but not by how often a key is read.
  return { id: 'maxmemory-policy', severity: 'warn', node, measured: policy, expected, ...fix }
}

function checkSamples(snapshot: NodeSnapshot, thresholds: DoctorThresholds): Finding {
  const node = snapshot.addr
  const min = thresholds.minMaxmemorySamples
  const expected = `>= ${min}`
  if (!snapshot.config.ok) {
    return skipped('maxmemory-samples', node, expected, `CONFIG GET failed: ${snapshot.config.reason}`)
  }
  const value = Number(snapshot.config.value['maxmemory-samples'])
  if (!Number.isFinite(value))
    return skipped('maxmemory-samples', node, expected, 'not reported by this server')
  if (value < min) {
    return {
      id: 'maxmemory-samples',
      severity: 'warn',
      node,
      measured: String(value),
      values: { samples: value },
      expected,
      ...configFix('maxmemory-samples', String(min)),
    }
  }
  const values = { samples: value }
  return {
    id: 'maxmemory-samples',
    severity: 'ok',
    node,
    measured: String(value),
    values,
    expected,
    ...NO_FIX,
  }
}

function checkMemoryUsage(snapshot: NodeSnapshot, thresholds: DoctorThresholds): Finding {
  const node = snapshot.addr
  const expected = `<= ${thresholds.memoryWarnRatio} (fail > ${thresholds.memoryFailRatio})`
  if (!snapshot.info.ok)
    return skipped('memory-usage', node, expected, `INFO failed: ${snapshot.info.reason}`)
  const used = infoValue(snapshot.info.value, 'used_memory')
  const max = infoValue(snapshot.info.value, 'maxmemory')
  if (used === null || max === null)
    return skipped('memory-usage', node, expected, 'not reported by this server')
  if (max === 0) return skipped('memory-usage', node, expected, 'maxmemory is 0, so there is no ratio')
  const ratio = used / max
  const measured = `${formatRatio(ratio)} (${formatBytes(used)} of ${formatBytes(max)})`
  const values = { usedMemory: used, maxmemory: max, ratio }
  if (ratio <= thresholds.memoryWarnRatio) {
    return { id: 'memory-usage', severity: 'ok', node, measured, values, expected, ...NO_FIX }
  }
  // Aim so the data sits at half the warn ratio after the change.
  const target = formatConfigBytes(used / (thresholds.memoryWarnRatio * 0.8))
  return {
    id: 'memory-usage',
    severity: ratio > thresholds.memoryFailRatio ? 'fail' : 'warn',
    node,
    measured,
    values,
    expected,
    fix: `maxmemory ${target} (or add shards: redis-cli --cluster add-node)`,
    fixCommand: `CONFIG SET maxmemory ${target}`,
  }
}

function checkFragmentation(snapshot: NodeSnapshot, thresholds: DoctorThresholds): Finding {
  const node = snapshot.addr
  const expected = `<= ${thresholds.fragmentationWarnRatio} or activedefrag yes`
  if (!snapshot.info.ok)
    return skipped('fragmentation', node, expected, `INFO failed: ${snapshot.info.reason}`)
  const ratio = infoValue(snapshot.info.value, 'mem_fragmentation_ratio')
  const used = infoValue(snapshot.info.value, 'used_memory')
  if (ratio === null || used === null)
    return skipped('fragmentation', node, expected, 'not reported by this server')
  const measured = formatRatio(ratio)
  const values = { ratio, usedMemory: used }
  if (used < thresholds.fragmentationMinUsedMemory) {
    const floor = formatBytes(thresholds.fragmentationMinUsedMemory)
    return {
      id: 'fragmentation',
      severity: 'ok',
      node,
      measured: `${measured} (not judged: used_memory ${formatBytes(used)} < ${floor})`,
      values,
      expected,
      ...NO_FIX,
    }
  }
  if (ratio <= thresholds.fragmentationWarnRatio) {
    return { id: 'fragmentation', severity: 'ok', node, measured, values, expected, ...NO_FIX }
  }
  if (!snapshot.config.ok) {
    return skipped(
      'fragmentation',
      node,
      expected,
      `ratio ${measured}, but activedefrag is unknown: CONFIG GET failed: ${snapshot.config.reason}`,
    )
  }
  if (snapshot.config.value.activedefrag === 'yes') {
    return {
      id: 'fragmentation',
      severity: 'ok',
      node,
      measured: `${measured} (activedefrag yes)`,
      values,
      expected,
      ...NO_FIX,
    }
  }
  return {
    id: 'fragmentation',
    severity: 'warn',
    node,
    measured,
    values,
    expected,
    ...configFix('activedefrag', 'yes'),
  }
}

function checkMissRatio(snapshot: NodeSnapshot, thresholds: DoctorThresholds): Finding {
  const node = snapshot.addr
  const expected = `misses/lookups <= ${thresholds.missRatioWarn}`
  if (!snapshot.info.ok)
    return skipped('keyspace-miss-ratio', node, expected, `INFO failed: ${snapshot.info.reason}`)
  const hits = infoValue(snapshot.info.value, 'keyspace_hits')
  const misses = infoValue(snapshot.info.value, 'keyspace_misses')
  if (hits === null || misses === null) {
    return skipped('keyspace-miss-ratio', node, expected, 'not reported by this server')
  }
  const lookups = hits + misses
  if (lookups < thresholds.missRatioMinLookups) {
    return {
      id: 'keyspace-miss-ratio',
      severity: 'ok',
      node,
      measured: `not judged: ${lookups} lookups < ${thresholds.missRatioMinLookups}`,
      values: { hits, misses },
      expected,
      ...NO_FIX,
    }
  }
  const ratio = misses / lookups
  const evicted = infoValue(snapshot.info.value, 'evicted_keys') ?? 0
  const measured = `${formatRatio(ratio)} (${misses} misses, ${hits} hits, ${evicted} evicted)`
  const values = { ratio, hits, misses, evicted }
  if (ratio <= thresholds.missRatioWarn) {
    return { id: 'keyspace-miss-ratio', severity: 'ok', node, measured, values, expected, ...NO_FIX }
  }
  const max = infoValue(snapshot.info.value, 'maxmemory') ?? 0
  // Evictions mean the data does not fit; otherwise entries expire before they are read again.
  const fix =
    evicted > 0 && max > 0
      ? configFix('maxmemory', formatConfigBytes(max * 1.5))
      : {
          fix: 'raise ttl / staleTtl for the keys that miss (a cache setting, not a server one)',
          fixCommand: null,
        }
  return { id: 'keyspace-miss-ratio', severity: 'warn', node, measured, values, expected, ...fix }
}

/**
 * `warn`, not `fail`: with `yes` (the default) one lost shard stops the whole cluster
 * (CLUSTERDOWN on every slot). That costs availability but serves nothing wrong, and some
 * operators choose it on purpose. Herdless fails open per slot only when this is `no`.
 */
function checkFullCoverage(snapshot: NodeSnapshot): Finding {
  const node = snapshot.addr
  const expected = 'no'
  if (!snapshot.config.ok) {
    return skipped(
      'cluster-require-full-coverage',
      node,
      expected,
      `CONFIG GET failed: ${snapshot.config.reason}`,
    )
  }
  const value = snapshot.config.value['cluster-require-full-coverage']
  if (value === undefined)
    return skipped('cluster-require-full-coverage', node, expected, 'not reported by this server')
  if (value === 'no') {
    return { id: 'cluster-require-full-coverage', severity: 'ok', node, measured: value, expected, ...NO_FIX }
  }
  return {
    id: 'cluster-require-full-coverage',
    severity: 'warn',
    node,
    measured: `${value} (one lost shard stops all slots)`,
    expected,
    ...configFix('cluster-require-full-coverage', 'no'),
  }
}

function checkNodeClusterState(snapshot: NodeSnapshot): Finding {
  const node = snapshot.addr
  const expected = 'cluster_state:ok'
  const clusterInfo = snapshot.clusterInfo
  if (clusterInfo === null) return skipped('cluster-state', node, expected, 'not a cluster audit')
  if (!clusterInfo.ok)
    return skipped('cluster-state', node, expected, `CLUSTER INFO failed: ${clusterInfo.reason}`)
  const state = clusterInfo.value.get('cluster_state') ?? 'unknown'
  if (state === 'ok')
    return { id: 'cluster-state', severity: 'ok', node, measured: state, expected, ...NO_FIX }
  return {
    id: 'cluster-state',
    severity: 'fail',
    node,
    measured: `cluster_state:${state}`,
    expected,
    fix: 'redis-cli --cluster fix <host:port>',
    fixCommand: null,
  }
}

/** The cluster-wide checks, from the seed's CLUSTER NODES / CLUSTER INFO and each member. */
export function checkCluster(
  members: ClusterMember[],
  seed: NodeSnapshot,
  thresholds: DoctorThresholds,
): Finding[] {
  const findings: Finding[] = []
  const seedAddr = seed.addr
  const primaries = members.filter((m) => m.entry.role === 'primary' && countSlots(m.entry.slots) > 0)

  // Slot coverage: from CLUSTER INFO when the seed answers it, else by adding up CLUSTER NODES.
  const assigned = primaries.reduce((sum, m) => sum + countSlots(m.entry.slots), 0)
  const seedInfo = seed.clusterInfo?.ok ? seed.clusterInfo.value : null
  const slotsOk = infoValue(seedInfo, 'cluster_slots_ok')
  const slotsAssigned = infoValue(seedInfo, 'cluster_slots_assigned') ?? assigned
  const covered = slotsOk ?? assigned
  const failing = infoValue(seedInfo, 'cluster_slots_fail') ?? 0
  const pfailing = infoValue(seedInfo, 'cluster_slots_pfail') ?? 0
  const slotsMeasured = `${slotsAssigned} assigned, ${covered} ok, ${pfailing} pfail, ${failing} fail`
  const values = { assigned: slotsAssigned, ok: covered, pfail: pfailing, fail: failing }
  findings.push(
    covered === CLUSTER_SLOTS && slotsAssigned === CLUSTER_SLOTS
      ? {
          id: 'cluster-slots',
          severity: 'ok',
          measured: slotsMeasured,
          values,
          expected: `${CLUSTER_SLOTS} assigned and ok`,
          ...NO_FIX,
        }
      : {
          id: 'cluster-slots',
          severity: 'fail',
          measured: slotsMeasured,
          values,
          expected: `${CLUSTER_SLOTS} assigned and ok`,
          fix: `redis-cli --cluster fix ${seedAddr}`,
          fixCommand: null,
        },
  )

  for (const primary of primaries) {
    const replicas = members.filter((m) => m.entry.primaryId === primary.entry.id)
    const healthy = replicas.filter((m) => !m.entry.failed)
    const node = primary.entry.addr
    const measured =
      replicas.length === 0
        ? 'no replica'
        : `${healthy.length} healthy of ${replicas.length} (${replicas.map((m) => m.entry.addr).join(', ')})`
    const replicaValues = { replicas: replicas.length, healthy: healthy.length }
    findings.push(
      healthy.length > 0
        ? {
            id: 'cluster-replicas',
            severity: 'ok',
            node,
            measured,
            values: replicaValues,
            expected: '>= 1 healthy replica',
            ...NO_FIX,
          }
        : {
            id: 'cluster-replicas',
            severity: 'fail',
            node,
            measured,
            values: replicaValues,
            expected: '>= 1 healthy replica',
            fix: `redis-cli --cluster add-node <new-host:port> ${seedAddr} --cluster-slave --cluster-master-id ${primary.entry.id}`,
            fixCommand: `CLUSTER REPLICATE ${primary.entry.id} (on an empty node)`,
          },
    )
    if (healthy.length === 0) continue
    const hostOf = (m: ClusterMember) => m.entry.host
    const elsewhere = healthy.filter((m) => hostOf(m) !== hostOf(primary))
    findings.push(
      elsewhere.length > 0
        ? {
            id: 'cluster-replica-placement',
            severity: 'ok',
            node,
            measured: `replica on ${elsewhere.map(hostOf).join(', ')}`,
            expected: 'a replica on another host',
            ...NO_FIX,
          }
        : {
            id: 'cluster-replica-placement',
            severity: 'warn',
            node,
            measured: `all replicas on ${hostOf(primary)} (its host)`,
            expected: 'a replica on another host',
            fix: `run CLUSTER REPLICATE ${primary.entry.id} on a node on another host`,
            fixCommand: `CLUSTER REPLICATE ${primary.entry.id}`,
          },
    )
  }

  if (primaries.length >= 2) {
    const counts = primaries.map((m) => countSlots(m.entry.slots))
    const max = Math.max(...counts)
    const min = Math.min(...counts)
    const ratio = max / min
    const measured = `max/min ${formatRatio(ratio)} (${min}..${max} slots over ${primaries.length} primaries)`
    const expected = `max/min <= ${thresholds.slotBalanceWarnRatio}`
    const values = { ratio, minSlots: min, maxSlots: max, primaries: primaries.length }
    findings.push(
      ratio <= thresholds.slotBalanceWarnRatio
        ? { id: 'cluster-slot-balance', severity: 'ok', measured, values, expected, ...NO_FIX }
        : {
            id: 'cluster-slot-balance',
            severity: 'warn',
            measured,
            values,
            expected,
            fix: `redis-cli --cluster rebalance ${seedAddr}`,
            fixCommand: null,
          },
    )
  }
  return findings
}
