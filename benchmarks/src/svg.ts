import type { Bar } from './types'

export interface Panel {
  title: string
  bars: Bar[]
}

const WIDTH = 1000
const LABEL_W = 380
const BAR_W = 330
const ROW_H = 22
const TITLE_H = 30
const GAP = 18
const COLORS: Record<Bar['role'], string> = { herdless: '#1f6feb', baseline: '#8b949e', other: '#d29922' }

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Horizontal bar chart, one panel per scenario, each scaled to its own largest bar. No dependencies. */
export function renderSvg(panels: readonly Panel[], subtitle: string): string {
  const parts: string[] = []
  let y = 50
  for (const p of panels) {
    parts.push(`<text x="16" y="${y + 18}" class="t">${esc(p.title)}</text>`)
    y += TITLE_H
    const max = Math.max(...p.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9)
    for (const b of p.bars) {
      const v = Number.isFinite(b.value) ? b.value : 0
      const w = Math.max(2, Math.round((v / max) * BAR_W))
      parts.push(
        `<text x="${LABEL_W - 8}" y="${y + 15}" class="l" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y + 3}" width="${w}" height="${ROW_H - 6}" rx="2" fill="${COLORS[b.role]}"/>`,
        `<text x="${LABEL_W + w + 6}" y="${y + 15}" class="v">${esc(b.display)}</text>`,
      )
      y += ROW_H
    }
    y += GAP
  }
  const height = y + 10
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>.h{font-size:18px;font-weight:600;fill:#24292f}.s{font-size:12px;fill:#57606a}.t{font-size:14px;font-weight:600;fill:#24292f}.l{font-size:12px;fill:#24292f}.v{font-size:12px;fill:#57606a}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    '<text x="16" y="26" class="h">Herdless benchmarks</text>',
    `<text x="16" y="44" class="s">${esc(subtitle)}</text>`,
    `<rect x="${WIDTH - 300}" y="14" width="12" height="12" fill="${COLORS.herdless}"/><text x="${WIDTH - 284}" y="24" class="s">Herdless</text>`,
    `<rect x="${WIDTH - 216}" y="14" width="12" height="12" fill="${COLORS.baseline}"/><text x="${WIDTH - 200}" y="24" class="s">baseline</text>`,
    `<rect x="${WIDTH - 136}" y="14" width="12" height="12" fill="${COLORS.other}"/><text x="${WIDTH - 120}" y="24" class="s">others</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}
