import { formatBytes, formatRatio } from './format-values'
import type { DoctorReport, Finding, SeveritySummary, SlotRange, TopologyReport } from './types'

/** Plain aligned columns, two spaces apart; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)))
  return all
    .map((row) =>
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** One line: `3 ok, 1 warn, 0 fail, 0 skipped`. */
export function formatSummary(summary: SeveritySummary): string {
  return `${summary.ok} ok, ${summary.warn} warn, ${summary.fail} fail, ${summary.skipped} skipped`
}

/** The width the doctor's text output fits (a terminal or a CI log at 100 columns). */
export const TEXT_WIDTH = 100

/** Words of `text` on lines of at most `width` characters, the first after `first`, the rest after `rest`. */
export function wrap(text: string, first: string, rest: string, width = TEXT_WIDTH): string[] {
  const lines: string[] = []
  let line = first
  let empty = true
  for (const word of text.split(' ')) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = rest
      empty = true
    }
    line += empty ? word : ` ${word}`
    empty = false
  }
  lines.push(line)
  return lines
}

/** `host:port` in host order, then numeric port order (7000 before 10000). */
export function compareAddr(a: string, b: string): number {
  const split = (addr: string): [string, number] => {
    const colon = addr.lastIndexOf(':')
    return [addr.slice(0, colon), Number(addr.slice(colon + 1))]
  }
  const [hostA, portA] = split(a)
  const [hostB, portB] = split(b)
  return hostA.localeCompare(hostB, 'en', { numeric: true }) || portA - portB
}

function fixText(f: Finding): string | null {
  if (f.fix === null) return null
  return f.fixCommand === null ? f.fix : `${f.fix}  (${f.fixCommand})`
}

function detail(f: Finding): string {
  return f.severity === 'skipped' && f.reason !== undefined ? f.reason : f.measured
}

/**
 * The doctor report, grouped by check and severity (fail, warn, skipped, ok): one roll-up line
 * per group ("maxmemory-samples: warn on 6/6 nodes"), then what was measured, expected and the
 * exact fix, once when every node agrees, else per node (sorted). Fits 100 columns. Ends with a newline.
 */
export function formatDoctorText(report: DoctorReport): string {
  const groups = new Map<string, Finding[]>()
  for (const f of report.findings) {
    const key = `${f.severity} ${f.id}`
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [f])
    else group.push(f)
  }
  const total = report.nodes.length
  const out: string[] = [`herdless doctor ${report.target} (${describeMode(report)})`, '']
  const pad = ' '.repeat('skipped '.length)
  for (const group of groups.values()) {
    const [head] = group
    if (head === undefined) continue
    const findings = [...group].sort((x, y) => compareAddr(x.node ?? '', y.node ?? ''))
    const perNode = head.node !== undefined
    const scope = perNode ? ` on ${findings.length}/${total} node${total === 1 ? '' : 's'}` : ' (cluster)'
    const title = `${head.severity.padEnd(pad.length)}${head.id}: ${head.severity}${scope}`
    const same = (pick: (f: Finding) => string | null) => new Set(findings.map(pick)).size === 1
    if (head.severity === 'ok') {
      out.push(...wrap(same(detail) ? `${title}: ${detail(head)}` : title, '', `${pad}  `))
      continue
    }
    out.push(title)
    const sameDetail = same(detail)
    const sameFix = same(fixText)
    if (sameDetail)
      out.push(
        ...wrap(
          `${detail(head)} (expected ${head.expected})`,
          `${pad}${head.severity === 'skipped' ? 'reason  ' : 'measured'} `,
          `${pad}  `,
        ),
      )
    const fix = fixText(head)
    if (sameFix && fix !== null) out.push(...wrap(fix, `${pad}fix      `, `${pad}  `))
    if (!sameDetail || !sameFix) {
      for (const f of findings) {
        const parts = [sameDetail ? null : detail(f), sameFix ? null : fixText(f)].filter((x) => x !== null)
        out.push(...wrap(`${f.node ?? '(cluster)'}  ${parts.join('; fix: ')}`, `${pad}`, `${pad}  `))
      }
    } else if (perNode && findings.length < total) {
      out.push(...wrap(findings.map((f) => f.node).join(' '), `${pad}nodes    `, `${pad}  `))
    }
  }
  out.push('', formatSummary(report.summary) + (report.strict ? ' (--strict: warnings fail)' : ''), '')
  return out.join('\n')
}

function describeMode(report: DoctorReport): string {
  const nodes = report.nodes.length === 1 ? '1 node' : `${report.nodes.length} nodes`
  if (report.mode === 'cluster' && !report.wholeCluster) {
    return 'cluster node audited alone; add --cluster for all nodes'
  }
  return `${report.mode}, ${nodes}`
}

/** The report as `--json` prints it. */
export function formatDoctorJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

/** Slot ranges as `0-5460,10923`. */
export function formatSlotRanges(ranges: SlotRange[]): string {
  if (ranges.length === 0) return '-'
  return ranges.map(([start, end]) => (start === end ? String(start) : `${start}-${end}`)).join(',')
}

/** The topology as a table: one row per node, primaries each followed by their replicas. */
export function formatTopologyText(report: TopologyReport): string {
  const shortId = (id: string | null) => (id === null ? '-' : id.slice(0, 8))
  const rows = report.nodes.map((n) => [
    shortId(n.id),
    n.addr,
    n.role,
    n.role === 'replica' ? (n.primaryId !== null ? shortId(n.primaryId) : (n.primaryAddr ?? '?')) : '-',
    formatSlotRanges(n.slots),
    n.usedMemory === null ? '?' : formatBytes(n.usedMemory),
    n.maxmemory === null ? '?' : n.maxmemory === 0 ? 'none' : formatBytes(n.maxmemory),
    n.memoryRatio === null ? '-' : formatRatio(n.memoryRatio),
    n.linkStatus ?? '-',
    n.replLag === null ? '-' : formatBytes(n.replLag),
    [...n.flags, ...(n.error === null ? [] : [`error: ${n.error}`])].join(' ') || '-',
  ])
  const primaries = report.nodes.filter((n) => n.role === 'primary').length
  const replicas = report.nodes.filter((n) => n.role === 'replica').length
  const failed = report.nodes.filter((n) => n.role === 'failed').length
  const summary =
    report.mode === 'cluster'
      ? `cluster_state ${report.clusterState ?? 'unknown'}, ${report.slotsAssigned ?? 0}/16384 slots assigned, ${primaries} primaries, ${replicas} replicas${failed > 0 ? `, ${failed} failed` : ''}`
      : `standalone, ${primaries} primary, ${replicas} replicas`
  return [
    `herdless topology ${report.target}`,
    '',
    formatTable(
      ['ID', 'ADDR', 'ROLE', 'PRIMARY', 'SLOTS', 'USED', 'MAXMEMORY', 'RATIO', 'LINK', 'LAG', 'NOTES'],
      rows,
    ),
    '',
    summary,
    '',
  ].join('\n')
}

/** The topology report as `--json` prints it. */
export function formatTopologyJson(report: TopologyReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}
