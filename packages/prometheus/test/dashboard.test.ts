import { readFileSync } from 'node:fs'
import { registerMetrics } from '@herdless/prometheus'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { labelNames, ManualEvents, promqlMetricNames, registeredNames, selectorLabels } from './helpers'

interface Target {
  expr: string
  refId: string
}
interface Panel {
  id: number
  type: string
  title: string
  targets?: Target[]
  gridPos: { x: number; y: number; w: number; h: number }
}
interface Dashboard {
  title: string
  uid: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string; query: unknown; definition?: string }> }
}

const dashboard = JSON.parse(
  readFileSync(new URL('../grafana-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard

function queries(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = []
  for (const p of dashboard.panels)
    for (const t of p.targets ?? []) out.push({ where: `${p.title}/${t.refId}`, expr: t.expr })
  for (const v of dashboard.templating.list) {
    if (typeof v.definition === 'string') out.push({ where: `$${v.name}`, expr: v.definition })
  }
  return out
}

describe('grafana-dashboard.json', () => {
  it('has the panels issue 9 asks for, each with at least one query', () => {
    expect(dashboard.uid).toBe('herdless-cache')
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    const titles = dashboard.panels.filter((p) => p.type !== 'row').map((p) => p.title)
    for (const title of [
      'Hit ratio by tier',
      'Stale share',
      'Loader duration p50 / p99',
      'Lock wait p50 / p99',
      'Errors',
      'Per-node memory ratio',
      'Cluster state',
    ]) {
      expect(titles).toContain(title)
      const panel = dashboard.panels.find((p) => p.type !== 'row' && p.title === title)
      expect(panel?.targets?.length, title).toBeGreaterThan(0)
    }
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const title of ['Loader duration p50 / p99', 'Lock wait p50 / p99']) {
      const exprs = dashboard.panels.find((p) => p.title === title)?.targets?.map((t) => t.expr) ?? []
      expect(exprs.some((e) => e.startsWith('histogram_quantile(0.5,'))).toBe(true)
      expect(exprs.some((e) => e.startsWith('histogram_quantile(0.99,'))).toBe(true)
    }
  })

  it('every PromQL metric name and selector label exists in the registry after registerMetrics', async () => {
    const registry = new Registry()
    registerMetrics(new ManualEvents('dashboard'), { registry })
    const names = await registeredNames(registry)
    const labels = labelNames(registry)
    const used = new Set<string>()
    for (const { where, expr } of queries()) {
      const found = promqlMetricNames(expr, names)
      expect(found.length, `${where} selects no herdless metric`).toBeGreaterThan(0)
      for (const name of found) {
        used.add(name)
        expect(names.has(name), `${where}: ${name} is not registered`).toBe(true)
      }
      for (const { metric, labels: selected } of selectorLabels(expr)) {
        const base = names.has(metric) ? metric : metric.replace(/_(bucket|sum|count)$/, '')
        for (const label of selected)
          expect(labels.get(base)?.has(label), `${where}: ${metric}{${label}}`).toBe(true)
      }
      for (const by of expr.matchAll(/by \(([^)]*)\)/g)) {
        for (const label of (by[1] as string).split(',').map((l) => l.trim())) {
          // Every label grouped by exists on some metric of the query.
          expect(
            found.some((name) => labels.get(name)?.has(label)),
            `${where}: by (${label})`,
          ).toBe(true)
        }
      }
    }
    // Every metric the package exports is on the dashboard.
    expect([...used].sort()).toEqual([...names].filter((n) => n.startsWith('herdless_')).sort())
  })

  it('panels do not overlap on the grid', () => {
    const cells = new Set<string>()
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false)
          cells.add(cell)
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24)
    }
  })
})
