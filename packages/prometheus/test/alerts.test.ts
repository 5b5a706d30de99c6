import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registerMetrics } from '@herdless/prometheus'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { labelNames, ManualEvents, promqlMetricNames, registeredNames, selectorLabels } from './helpers'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const alertsPath = join(pkg, 'alerts.yml')

interface Rule {
  alert?: unknown
  record?: unknown
  expr?: unknown
  for?: unknown
  labels?: Record<string, unknown>
  annotations?: Record<string, unknown>
}

function rules(): Rule[] {
  const doc = parse(readFileSync(alertsPath, 'utf8')) as {
    groups?: Array<{ name?: unknown; rules?: Rule[] }>
  }
  return (doc.groups ?? []).flatMap((g) => g.rules ?? [])
}

/**
 * redis_exporter (oliver006/redis_exporter) names: INFO fields through its metric maps
 * (used_memory -> memory_used_bytes, maxmemory -> memory_max_bytes, keyspace_hits/misses ->
 * *_total) and every CLUSTER INFO `cluster_*` field as is (cluster_state ok = 1).
 */
const REDIS_EXPORTER_METRICS = new Set([
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
  'redis_keyspace_hits_total',
  'redis_keyspace_misses_total',
  'redis_cluster_state',
  'redis_cluster_slots_fail',
])

async function registryAfterRegister() {
  const registry = new Registry()
  registerMetrics(new ManualEvents('alerts'), { registry })
  return { names: await registeredNames(registry), labelsOf: labelNames(registry) }
}

describe('alerts.yml', () => {
  it('parses as YAML and every rule has alert, expr, for, labels.severity and annotations', () => {
    const doc = parse(readFileSync(alertsPath, 'utf8')) as { groups: Array<{ name: unknown; rules: Rule[] }> }
    expect(Array.isArray(doc.groups)).toBe(true)
    expect(doc.groups.map((g) => g.name)).toEqual(['herdless', 'redis'])
    const all = rules()
    expect(all.length).toBe(11)
    const names = new Set<string>()
    for (const rule of all) {
      expect(Object.keys(rule).sort()).toEqual(['alert', 'annotations', 'expr', 'for', 'labels'])
      expect(rule.alert).toMatch(/^[A-Z][A-Za-z0-9]+$/)
      expect(names.has(rule.alert as string)).toBe(false)
      names.add(rule.alert as string)
      expect(typeof rule.expr).toBe('string')
      expect((rule.expr as string).trim().length).toBeGreaterThan(0)
      expect(rule.for).toMatch(/^\d+[smh]$/)
      expect(Object.keys(rule.labels ?? {})).toEqual(['severity'])
      expect(['page', 'scale', 'warning']).toContain(rule.labels?.severity)
      expect(Object.keys(rule.annotations ?? {}).sort()).toEqual(['description', 'summary'])
      for (const text of Object.values(rule.annotations ?? {})) expect(typeof text).toBe('string')
      // Balanced brackets: a cheap syntax check that runs where promtool does not.
      const expr = rule.expr as string
      for (const [open, close] of ['()', '[]', '{}']) {
        expect(expr.split(open as string).length, `${rule.alert}: ${open}${close}`).toBe(
          expr.split(close as string).length,
        )
      }
    }
  })

  it('covers what issue 9 asks for, each at its severity', () => {
    const by = new Map(rules().map((r) => [r.alert as string, r]))
    const expectRule = (alert: string, severity: string, pattern: RegExp) => {
      const rule = by.get(alert)
      expect(rule, alert).toBeDefined()
      expect(rule?.labels?.severity, alert).toBe(severity)
      expect(rule?.expr, alert).toMatch(pattern)
    }
    expectRule('HerdlessClusterSlotsFailing', 'page', /herdless_cluster_slots_fail\) > 0$/)
    expectRule('RedisClusterSlotsFailing', 'page', /redis_cluster_slots_fail\) > 0$/)
    expectRule('HerdlessClusterStateNotOk', 'page', /herdless_cluster_state\) < 1$/)
    expectRule('RedisClusterStateNotOk', 'page', /redis_cluster_state\) < 1$/)
    expectRule('HerdlessNodeMemoryHigh', 'scale', /herdless_node_memory_ratio\) > 0\.80$/)
    expectRule(
      'RedisMemoryHigh',
      'scale',
      /redis_memory_used_bytes \/ \(redis_memory_max_bytes > 0\) > 0\.80$/,
    )
    expectRule(
      'RedisKeyspaceMissRatioHigh',
      'warning',
      /redis_keyspace_misses_total.*\/.*redis_keyspace_hits_total.*> 0\.3$/,
    )
    expectRule('HerdlessLockTimeoutsRising', 'warning', /rate\(herdless_lock_timeouts_total\[5m\]\)/)
    expectRule('HerdlessRedisErrorsRising', 'warning', /rate\(herdless_redis_errors_total\[5m\]\)/)
  })

  it('uses only metric names that exist: herdless_* in the registry after registerMetrics, redis_* from redis_exporter', async () => {
    const { names, labelsOf } = await registryAfterRegister()
    const used = new Set<string>()
    for (const rule of rules()) {
      const expr = rule.expr as string
      for (const name of promqlMetricNames(expr, names)) {
        used.add(name)
        expect(names.has(name), `${rule.alert}: ${name} is not registered`).toBe(true)
      }
      for (const name of expr.match(/\bredis_[a-z_]+/g) ?? []) {
        expect(REDIS_EXPORTER_METRICS.has(name), `${rule.alert}: ${name}`).toBe(true)
      }
      for (const { metric, labels } of selectorLabels(expr)) {
        if (!metric.startsWith('herdless_')) continue
        for (const label of labels) expect(labelsOf.get(metric)?.has(label), `${metric}{${label}}`).toBe(true)
      }
      // The labels a rule aggregates by must exist on the herdless metric it aggregates.
      const by = /by \(([^)]*)\) \((?:rate\()?(herdless_[a-z_]+)/.exec(expr)
      if (by !== null) {
        for (const label of (by[1] as string).split(',').map((l) => l.trim())) {
          expect(labelsOf.get(by[2] as string)?.has(label), `${rule.alert}: by ${label}`).toBe(true)
        }
      }
    }
    expect([...used].sort()).toEqual([
      'herdless_bus_messages_total',
      'herdless_cluster_slots_fail',
      'herdless_cluster_state',
      'herdless_loader_errors_total',
      'herdless_lock_timeouts_total',
      'herdless_node_memory_ratio',
      'herdless_redis_errors_total',
    ])
  })

  it('the metric-name check fails on a misspelt name', async () => {
    const { names } = await registryAfterRegister()
    expect(promqlMetricNames('sum(rate(herdless_lock_timeout_total[5m])) > 0', names)).toEqual([
      'herdless_lock_timeout_total',
    ])
    expect(names.has('herdless_lock_timeout_total')).toBe(false)
    expect(
      promqlMetricNames('histogram_quantile(0.9, rate(herdless_lock_wait_seconds_bucket[5m]))', names),
    ).toEqual(['herdless_lock_wait_seconds'])
  })
})

// promtool (Debian: apt-get install prometheus) checks syntax and runs the alert unit tests in
// test/alerts.promtool.yml. It is an extra check where it is installed; without it these tests
// do not exist (they are not reported as skipped or passed).
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
if (promtool.status === 0) {
  describe('promtool', () => {
    it('check rules: alerts.yml is valid', () => {
      const out = execFileSync('promtool', ['check', 'rules', alertsPath], { encoding: 'utf8' })
      expect(out).toContain('SUCCESS: 11 rules found')
    })

    it('test rules: every alert fires on its scenario and stays quiet on the healthy series', () => {
      const out = execFileSync('promtool', ['test', 'rules', 'test/alerts.promtool.yml'], {
        cwd: pkg,
        encoding: 'utf8',
      })
      expect(out).toContain('SUCCESS')
    })

    it('check rules: every dashboard query parses as PromQL', () => {
      const dashboard = JSON.parse(readFileSync(join(pkg, 'grafana-dashboard.json'), 'utf8')) as {
        panels: Array<{ targets?: Array<{ expr: string }> }>
      }
      const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))
      const dir = mkdtempSync(join(tmpdir(), 'herdless-dashboard-'))
      try {
        const file = join(dir, 'dashboard-rules.yml')
        const recorded = exprs.map((expr, i) => ({
          record: `dashboard:query_${i}`,
          expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$cache', '.*'),
        }))
        writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: recorded }] }))
        const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })
        expect(out).toContain(`SUCCESS: ${exprs.length} rules found`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
} else {
  console.info('promtool not installed: the promtool checks of alerts.yml are not part of this run')
}
