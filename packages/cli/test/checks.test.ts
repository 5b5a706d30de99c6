/** The judgement rules on synthetic snapshots, for the bands a real server cannot be driven into cheaply. */
import { describe, expect, it } from 'vitest'
import { checkCluster, checkNode, DEFAULT_THRESHOLDS } from '../src/checks'
import type { ClusterMember, NodeSnapshot } from '../src/collect'
import { parseRedisUrl, redactUrl } from '../src/index'
import { parseInfo, readClusterNodeEntries } from '../src/nodes'

const MB = 1024 * 1024

function snapshot(info: Record<string, string | number>, config: Record<string, string> = {}): NodeSnapshot {
  const fields = Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v)]))
  return {
    addr: '10.0.0.1:6379',
    host: '10.0.0.1',
    port: 6379,
    connectError: null,
    info: { ok: true, value: new Map(Object.entries({ maxmemory_policy: 'allkeys-lfu', ...fields })) },
    config: { ok: true, value: { 'maxmemory-samples': '10', activedefrag: 'no', ...config } },
    clusterInfo: null,
  }
}

const check = (s: NodeSnapshot, id: string) =>
  checkNode(s, { thresholds: DEFAULT_THRESHOLDS, nodesOnHost: 1, cluster: false }).find((f) => f.id === id)

describe('memory usage bands', () => {
  it.each([
    [0.5, 'ok'],
    [0.8, 'warn'],
    [0.9, 'fail'],
  ])('used/max %s is %s', (ratio, severity) => {
    const s = snapshot({ maxmemory: 100 * MB, used_memory: ratio * 100 * MB })
    expect(check(s, 'memory-usage')?.severity).toBe(severity)
  })
})

describe('fragmentation', () => {
  const big = { maxmemory: 1024 * MB, used_memory: 200 * MB, mem_fragmentation_ratio: 1.6 }
  it('warns above 1.2 with activedefrag off, and proposes activedefrag yes', () => {
    expect(check(snapshot(big), 'fragmentation')).toMatchObject({
      severity: 'warn',
      fix: 'activedefrag yes',
      fixCommand: 'CONFIG SET activedefrag yes',
    })
  })
  it('is fine with activedefrag yes', () => {
    expect(check(snapshot(big, { activedefrag: 'yes' }), 'fragmentation')?.severity).toBe('ok')
  })
  it('is not judged below 64 MB of used_memory', () => {
    const f = check(snapshot({ ...big, used_memory: 2 * MB, mem_fragmentation_ratio: 9 }), 'fragmentation')
    expect(f?.severity).toBe('ok')
    expect(f?.measured).toContain('not judged')
  })
  it('is skipped when it matters and CONFIG is denied', () => {
    const s = { ...snapshot(big), config: { ok: false, reason: 'NOPERM' } as const }
    expect(check(s, 'fragmentation')?.severity).toBe('skipped')
  })
})

describe('policies', () => {
  it.each([
    ['allkeys-lfu', 'ok'],
    ['volatile-lfu', 'ok'],
    ['allkeys-lru', 'warn'],
    ['volatile-lru', 'warn'],
    ['allkeys-random', 'warn'],
    ['volatile-random', 'warn'],
    ['volatile-ttl', 'warn'],
    ['noeviction', 'fail'],
  ])('%s is %s', (policy, severity) => {
    expect(check(snapshot({ maxmemory: MB, maxmemory_policy: policy }), 'maxmemory-policy')?.severity).toBe(
      severity,
    )
  })
  it('splits the suggested maxmemory between the nodes sharing a host', () => {
    const s = snapshot({ maxmemory: 0, total_system_memory: 8 * 1024 * MB })
    const [f] = checkNode(s, { thresholds: DEFAULT_THRESHOLDS, nodesOnHost: 2, cluster: false })
    expect(f).toMatchObject({ id: 'maxmemory', severity: 'fail', fix: 'maxmemory 3072mb' })
  })
})

describe('miss ratio', () => {
  it('suggests more memory when keys are being evicted', () => {
    const s = snapshot({ maxmemory: 100 * MB, keyspace_hits: 500, keyspace_misses: 1500, evicted_keys: 42 })
    expect(check(s, 'keyspace-miss-ratio')).toMatchObject({ severity: 'warn', fix: 'maxmemory 150mb' })
  })
  it('is not judged on few lookups', () => {
    const s = snapshot({ maxmemory: 100 * MB, keyspace_hits: 1, keyspace_misses: 500 })
    expect(check(s, 'keyspace-miss-ratio')?.severity).toBe('ok')
  })
})

const NODES = `
aaaa 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-9999
bbbb 10.0.0.2:7000@17000 master - 0 0 2 connected 10000-16383 [10000-<-aaaa]
cccc 10.0.0.2:7001@17001 slave aaaa 0 0 1 connected
dddd 10.0.0.2:7002@17002 slave bbbb 0 0 2 connected
eeee :0@0 handshake - 0 0 0 disconnected
`

function members(text: string): ClusterMember[] {
  return readClusterNodeEntries(text).map((entry) => ({
    entry,
    snapshot: { ...snapshot({ maxmemory: MB }), addr: entry.addr, host: entry.host, port: entry.port },
  }))
}

describe('cluster-wide checks', () => {
  it('parses CLUSTER NODES, ignoring handshake nodes and migration markers', () => {
    const nodes = readClusterNodeEntries(NODES)
    expect(nodes.map((n) => n.id)).toEqual(['aaaa', 'bbbb', 'cccc', 'dddd'])
    expect(nodes[1]?.slots).toEqual([[10000, 16383]])
    expect(nodes[2]).toMatchObject({ role: 'replica', primaryId: 'aaaa', addr: '10.0.0.2:7001' })
    expect(nodes[0]).toMatchObject({ host: '10.0.0.1', port: 7000, myself: true })
  })

  it("counts only a `fail` replica as unhealthy: `fail?` is one node suspecting it (core's meaning)", () => {
    const suspected = members(NODES.replace('slave bbbb 0 0 2 connected', 'slave,fail? bbbb 0 0 2 connected'))
    const seed = suspected[0]?.snapshot
    if (seed === undefined) throw new Error('no seed')
    const replicas = checkCluster(suspected, seed, DEFAULT_THRESHOLDS).filter(
      (f) => f.id === 'cluster-replicas',
    )
    expect(replicas.map((f) => f.severity)).toEqual(['ok', 'ok'])
    expect(replicas.map((f) => f.values)).toEqual([
      { replicas: 1, healthy: 1 },
      { replicas: 1, healthy: 1 },
    ])
  })

  it('warns on unbalanced slots and on a replica sharing its primary host', () => {
    const list = members(NODES)
    const seed = list[0]?.snapshot
    if (seed === undefined) throw new Error('no seed')
    const findings = checkCluster(list, seed, DEFAULT_THRESHOLDS)
    expect(findings.find((f) => f.id === 'cluster-slot-balance')).toMatchObject({
      severity: 'warn',
      measured: 'max/min 1.57 (6384..10000 slots over 2 primaries)',
    })
    const placement = findings.filter((f) => f.id === 'cluster-replica-placement')
    expect(placement.map((f) => [f.node, f.severity])).toEqual([
      ['10.0.0.1:7000', 'ok'],
      ['10.0.0.2:7000', 'warn'],
    ])
    expect(findings.find((f) => f.id === 'cluster-slots')?.severity).toBe('ok')
  })

  it('fails uncovered slots and a primary without a healthy replica', () => {
    const text = NODES.replace('0-9999', '0-9000').replace(
      'slave bbbb 0 0 2 connected',
      'slave,fail bbbb 0 0 2 connected',
    )
    const list = members(text)
    const seed = list[0]?.snapshot
    if (seed === undefined) throw new Error('no seed')
    const findings = checkCluster(list, seed, DEFAULT_THRESHOLDS)
    expect(findings.find((f) => f.id === 'cluster-slots')).toMatchObject({ severity: 'fail' })
    expect(findings.find((f) => f.id === 'cluster-replicas' && f.severity === 'fail')?.node).toBe(
      '10.0.0.2:7000',
    )
  })
})

describe('URLs', () => {
  it('parses credentials, db and TLS, and redacts passwords', () => {
    expect(parseRedisUrl('rediss://app:p%40ss@cache.internal:6380/2')).toEqual({
      host: 'cache.internal',
      port: 6380,
      username: 'app',
      password: 'p@ss',
      db: 2,
      tls: true,
    })
    expect(parseRedisUrl('127.0.0.1:7000')).toMatchObject({ host: '127.0.0.1', port: 7000, tls: false })
    expect(parseRedisUrl('redis://[::1]:7000').host).toBe('::1')
    expect(redactUrl('redis://app:secret@h:1/0')).toBe('redis://app:***@h:1/0')
    expect(redactUrl('redis://:secret@h:1')).toBe('redis://:***@h:1')
    expect(redactUrl('redis://h:1')).toBe('redis://h:1')
  })

  it('parses INFO', () => {
    expect(Object.fromEntries(parseInfo('# Memory\r\nused_memory:123\r\n\r\nrole:master\r\n'))).toEqual({
      used_memory: '123',
      role: 'master',
    })
  })
})
