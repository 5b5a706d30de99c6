/** The doctor's text output: grouped by check, roll-up lines, sorted nodes, 100 columns. */
import { describe, expect, it } from 'vitest'
import { formatDoctorText } from '../src/format'
import type { DoctorReport, Finding } from '../src/types'

// CLUSTER NODES order, not address order; port 10000 sorts after 7001 (numeric, not string).
const NODES = ['127.0.0.1:7002', '127.0.0.1:10000', '127.0.0.1:7000', '127.0.0.1:7001']

function report(findings: Finding[], strict = false): DoctorReport {
  const summary = { ok: 0, warn: 0, fail: 0, skipped: 0 }
  for (const f of findings) summary[f.severity]++
  return {
    target: 'redis://127.0.0.1:7000',
    mode: 'cluster',
    wholeCluster: true,
    nodes: NODES,
    findings,
    summary,
    strict,
    exitCode: summary.fail > 0 || (strict && summary.warn > 0) ? 1 : 0,
  }
}

const samples = (node: string): Finding => ({
  id: 'maxmemory-samples',
  severity: 'warn',
  node,
  measured: '5',
  values: { samples: 5 },
  expected: '>= 10',
  fix: 'maxmemory-samples 10',
  fixCommand: 'CONFIG SET maxmemory-samples 10',
})
const longFix = (node: string): Finding => ({
  id: 'cluster-replicas',
  severity: 'fail',
  node,
  measured: 'no replica',
  expected: '>= 1 healthy replica',
  fix: `redis-cli --cluster add-node <new-host:port> 127.0.0.1:7000 --cluster-slave --cluster-master-id ${node.repeat(3)}`,
  fixCommand: 'CLUSTER REPLICATE 0123456789abcdef0123456789abcdef01234567 (on an empty node)',
})

describe('formatDoctorText', () => {
  const text = formatDoctorText(
    report([
      longFix(NODES[0] ?? ''),
      longFix(NODES[2] ?? ''),
      ...NODES.map(samples),
      ...NODES.map(
        (node): Finding => ({
          id: 'maxmemory-policy',
          severity: 'ok',
          node,
          measured: 'allkeys-lfu',
          expected: 'allkeys-lfu or volatile-lfu',
          fix: null,
          fixCommand: null,
        }),
      ),
    ]),
  )
  const lines = text.split('\n')

  it('rolls each check up into one line, with the node count', () => {
    expect(lines).toContain('warn    maxmemory-samples: warn on 4/4 nodes')
    expect(lines).toContain('ok      maxmemory-policy: ok on 4/4 nodes: allkeys-lfu')
    expect(lines).toContain('fail    cluster-replicas: fail on 2/4 nodes')
    // One measured line and one exact fix line for the 4 agreeing nodes, not 4 rows.
    expect(lines.filter((l) => l.includes('CONFIG SET maxmemory-samples 10'))).toHaveLength(1)
  })

  it('lists differing nodes sorted by host and numeric port, and fits 100 columns', () => {
    const nodeLines = lines.filter((l) => /^ {8}127\.0\.0\.1:\d+ /.test(l)).map((l) => l.trim().split(' ')[0])
    expect(nodeLines).toEqual(['127.0.0.1:7000', '127.0.0.1:7002'])
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100)
    // Every word of the fix survives the wrapping.
    expect(text.replace(/\s+/g, ' ')).toContain(
      '--cluster-master-id 127.0.0.1:7000127.0.0.1:7000127.0.0.1:7000',
    )
  })

  it('orders groups fail, warn, ok as the report does, and says when warnings fail the run', () => {
    const order = lines.filter((l) => /^(fail|warn|ok) /.test(l)).map((l) => l.split(' ')[0])
    expect(order).toEqual(['fail', 'warn', 'ok'])
    expect(formatDoctorText(report([samples('127.0.0.1:7000')], true))).toContain('(--strict: warnings fail)')
  })

  it('says a cluster node was audited alone', () => {
    const alone = { ...report([samples('127.0.0.1:7000')]), wholeCluster: false, nodes: ['127.0.0.1:7000'] }
    expect(formatDoctorText(alone).split('\n')[0]).toBe(
      'herdless doctor redis://127.0.0.1:7000 (cluster node audited alone; add --cluster for all nodes)',
    )
  })
})
