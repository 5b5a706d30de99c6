import { formatBytes, formatRatio } from './format-values'
import type { DoctorReport, SeveritySummary, SlotRange, TopologyReport } from './types'

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

export function formatSummary(summary: SeveritySummary): string {
  return `${summary.ok} ok, ${summary.warn} warn, ${summary.fail} fail, ${summary.skipped} skipped`
}

/** The doctor report as a table, problems first, then the summary line. Ends with a newline. */
export function formatDoctorText(report: DoctorReport): string {
  const rows = report.findings.map((f) => [
    f.severity,
    f.id,
    f.node ?? '(cluster)',
    f.severity === 'skipped' && f.reason !== undefined ? f.reason : f.measured,
    f.expected,
    f.fix === null ? '-' : f.fixCommand === null ? f.fix : `${f.fix}  (${f.fixCommand})`,
  ])
  const nodes = report.nodes.length === 1 ? '1 node' : `${report.nodes.length} nodes`
  return [
    `herdless doctor ${report.target} (${report.mode}, ${nodes})`,
    '',
    formatTable(['SEVERITY', 'CHECK', 'NODE', 'MEASURED', 'EXPECTED', 'FIX'], rows),
    '',
    formatSummary(report.summary),
    '',
  ].join('\n')
}

export function formatDoctorJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

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
  const summary =
    report.mode === 'cluster'
      ? `cluster_state ${report.clusterState ?? 'unknown'}, ${report.slotsAssigned ?? 0}/16384 slots assigned, ${primaries} primaries, ${replicas} replicas`
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

export function formatTopologyJson(report: TopologyReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}
