import type { RedisCluster } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DoctorReport, readTopology, runDoctor, type TopologyReport } from '../src/index'
import { runCliCaptured, sleep, startCluster } from './helpers'

const CACHE_CONFIG = [
  '--maxmemory',
  '100mb',
  '--maxmemory-policy',
  'allkeys-lfu',
  '--maxmemory-samples',
  '10',
  '--cluster-require-full-coverage',
  'no',
]

function seedUrl(cluster: RedisCluster, index = 0): string {
  const node = cluster.startupNodes[index]
  if (node === undefined) throw new Error(`no node ${index}`)
  return `redis://${node.host}:${node.port}`
}

describe('doctor --cluster and topology on a 3-primary / 3-replica cluster', () => {
  let cluster: RedisCluster
  let url: string
  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1, args: CACHE_CONFIG })
    url = seedUrl(cluster)
  })
  afterAll(() => cluster?.stop())

  it('audits all six nodes: slots covered, every primary replicated, nothing failing', async () => {
    const report = await runDoctor(url, { cluster: true })
    expect(report.mode).toBe('cluster')
    expect(report.nodes).toHaveLength(6)
    expect(report.nodes[0]).toBe(`127.0.0.1:${cluster.startupNodes[0]?.port}`)

    const slots = report.findings.filter((f) => f.id === 'cluster-slots')
    expect(slots).toMatchObject([{ severity: 'ok', measured: '16384 assigned, 16384 ok, 0 pfail, 0 fail' }])
    const replicas = report.findings.filter((f) => f.id === 'cluster-replicas')
    expect(replicas).toHaveLength(3)
    for (const f of replicas) expect(f.severity).toBe('ok')
    expect(report.findings.filter((f) => f.id === 'cluster-state' && f.severity === 'ok')).toHaveLength(6)
    expect(report.findings.find((f) => f.id === 'cluster-slot-balance')?.severity).toBe('ok')
    // Per-node config checks ran on every node, over its own connection.
    expect(report.findings.filter((f) => f.id === 'maxmemory-samples' && f.severity === 'ok')).toHaveLength(6)
    expect(
      report.findings.filter((f) => f.id === 'cluster-require-full-coverage' && f.severity === 'ok'),
    ).toHaveLength(6)

    // On loopback every replica shares its primary's host: a warning, never a failure.
    const placement = report.findings.filter((f) => f.id === 'cluster-replica-placement')
    expect(placement).toHaveLength(3)
    for (const f of placement) expect(f.severity).toBe('warn')
    expect(report.summary).toMatchObject({ warn: 3, fail: 0, skipped: 0 })
    expect(report.exitCode).toBe(0)
  })

  it('warns on cluster-require-full-coverage yes from the CLI, and exits 0 (warnings only)', async () => {
    const port = cluster.startupNodes[1]?.port
    const { Redis } = await import('ioredis')
    const node = new Redis({ host: '127.0.0.1', port })
    await node.config('SET', 'cluster-require-full-coverage', 'yes')
    node.disconnect()
    const { code, stdout } = await runCliCaptured(['doctor', url, '--cluster', '--json'])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as DoctorReport
    const coverage = report.findings.filter(
      (f) => f.id === 'cluster-require-full-coverage' && f.severity === 'warn',
    )
    expect(coverage).toMatchObject([
      {
        node: `127.0.0.1:${port}`,
        fix: 'cluster-require-full-coverage no',
        fixCommand: 'CONFIG SET cluster-require-full-coverage no',
      },
    ])
  })

  it('warns without --cluster that only the seed was audited', async () => {
    const report = await runDoctor(url)
    expect(report.nodes).toHaveLength(1)
    expect(report.findings.find((f) => f.id === 'cluster-mode')).toMatchObject({ severity: 'warn' })
  })

  it('topology --json lists 6 nodes: 3 primaries covering 16384 slots, each with a linked replica', async () => {
    const { code, stdout } = await runCliCaptured(['topology', url, '--json'])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as TopologyReport
    expect(report.mode).toBe('cluster')
    expect(report.clusterState).toBe('ok')
    expect(report.slotsAssigned).toBe(16384)
    expect(report.nodes).toHaveLength(6)
    const primaries = report.nodes.filter((n) => n.role === 'primary')
    const replicas = report.nodes.filter((n) => n.role === 'replica')
    expect(primaries).toHaveLength(3)
    expect(primaries.reduce((sum, n) => sum + n.slotCount, 0)).toBe(16384)
    expect(primaries[0]?.slots[0]?.[0]).toBe(0)
    for (const replica of replicas) {
      expect(primaries.map((p) => p.id)).toContain(replica.primaryId)
      expect(replica.linkStatus).toBe('up')
      expect(replica.replLag).toBeGreaterThanOrEqual(0)
      expect(replica.maxmemory).toBe(100 * 1024 * 1024)
    }
    // Each primary is directly followed by its replica.
    expect(report.nodes[1]?.primaryId).toBe(report.nodes[0]?.id)
    for (const n of report.nodes) expect(n.error).toBeNull()
  })

  it('topology text is an aligned table with a summary line', async () => {
    const report = await readTopology(url)
    const { code, stdout } = await runCliCaptured(['topology', url])
    expect(code).toBe(0)
    const lines = stdout.split('\n')
    expect(lines[2]).toMatch(/^ID {8}ADDR +ROLE +PRIMARY +SLOTS +USED +MAXMEMORY +RATIO +LINK +LAG +NOTES$/)
    expect(lines[3]).toMatch(/^[0-9a-f]{8} {2}127\.0\.0\.1:\d+ +primary +- +0-5460 /)
    expect(stdout).toContain('cluster_state ok, 16384/16384 slots assigned, 3 primaries, 3 replicas')
    expect(report.nodes).toHaveLength(6)
  })

  it('fails when a replica dies: the node is unreachable and its primary has no healthy replica', async () => {
    const topology = await readTopology(url)
    const replica = topology.nodes.find((n) => n.role === 'replica')
    if (replica === undefined || replica.id === null || replica.primaryAddr === null) {
      throw new Error('no replica in topology')
    }
    await cluster.killNode(replica.id)

    let report: DoctorReport | undefined
    // The seed flags the replica (pfail) after cluster-node-timeout (1 s).
    for (let i = 0; i < 50; i++) {
      report = await runDoctor(url, { cluster: true, timeoutMs: 1000 })
      const missing = report.findings.find((f) => f.id === 'cluster-replicas' && f.severity === 'fail')
      if (missing !== undefined) break
      await sleep(200)
    }
    if (report === undefined) throw new Error('no report')
    expect(report.findings.find((f) => f.id === 'node-reachable')).toMatchObject({
      severity: 'fail',
      node: replica.addr,
    })
    expect(report.findings.find((f) => f.id === 'cluster-replicas' && f.severity === 'fail')).toMatchObject({
      node: replica.primaryAddr,
      measured: expect.stringContaining('0 healthy of 1'),
    })
    expect(report.exitCode).toBe(1)
    const { code } = await runCliCaptured(['doctor', url, '--cluster'])
    expect(code).toBe(1)
    const after = await readTopology(url, { timeoutMs: 1000 })
    expect(after.nodes).toHaveLength(6)
    expect(after.nodes.find((n) => n.addr === replica.addr)?.error).toMatch(/ECONNREFUSED/)
  })

  it('after a failover, lists the dead former primary as failed, not as a primary', async () => {
    const seedAddr = seedUrl(cluster).replace('redis://', '')
    const before = await readTopology(url, { timeoutMs: 1000 })
    // A primary other than the seed whose replica is alive (the previous test killed one replica).
    const primary = before.nodes.find(
      (n) =>
        n.role === 'primary' &&
        n.addr !== seedAddr &&
        before.nodes.some((r) => r.primaryId === n.id && r.role === 'replica' && r.error === null),
    )
    if (primary === undefined || primary.id === null) throw new Error('no primary with a live replica')
    await cluster.killNode(primary.id)

    let after: TopologyReport | undefined
    for (let i = 0; i < 75; i++) {
      after = await readTopology(url, { timeoutMs: 1000 })
      const promoted = after.nodes.filter((n) => n.role === 'primary').length === 3
      if (promoted && after.nodes.find((n) => n.addr === primary.addr)?.role === 'failed') break
      await sleep(200)
    }
    if (after === undefined) throw new Error('no topology')
    expect(after.nodes.find((n) => n.addr === primary.addr)).toMatchObject({ role: 'failed', slotCount: 0 })
    expect(after.nodes.filter((n) => n.role === 'primary')).toHaveLength(3)
    const { stdout } = await runCliCaptured(['topology', url, '--timeout', '1000'])
    expect(stdout).toMatch(/3 primaries, \d+ replicas?, [12] failed/)
  }, 30_000)
})
