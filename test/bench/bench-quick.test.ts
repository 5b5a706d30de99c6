import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

/**
 * `pnpm bench --quick` end to end, as a smoke test: it must finish and leave a well-formed
 * report. Numbers are never asserted (timing claims live in the benchmark's own output).
 */
const root = fileURLToPath(new URL('../../', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'herdless-bench-'))

const SCENARIOS = [
  'l2-hit',
  'l2-hit-cluster',
  'l1-hit',
  'miss-fill',
  'cold-stampede',
  'expiring-hot-key',
  'memory',
]

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'scripts', 'bench.mjs'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.on('exit', (code) => resolve({ code, output }))
  })
}

/** The markdown tables of a document: each a list of rows, each row a list of cells. */
function tables(md: string): string[][][] {
  const found: string[][][] = []
  let current: string[][] | undefined
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      const cells = line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim())
      current ??= []
      current.push(cells)
    } else if (current !== undefined) {
      found.push(current)
      current = undefined
    }
  }
  if (current !== undefined) found.push(current)
  return found
}

describe('pnpm bench --quick', () => {
  afterAll(() => {
    rmSync(out, { recursive: true, force: true })
  })

  it('completes and writes a well-formed markdown report, chart and JSON', async () => {
    // `pnpm test` has just built every package; build only when the dist is missing.
    const built = existsSync(join(root, 'packages', 'core', 'dist', 'index.js'))
    const { code, output } = await runBench([
      '--quick',
      '--no-profile',
      '--out',
      out,
      ...(built ? ['--no-build'] : []),
    ])
    expect(code, output.slice(-3000)).toBe(0)

    const md = readFileSync(join(out, 'quick.md'), 'utf8')
    expect(md).toContain('## Machine')
    expect(md).toMatch(/\| CPU \| .+ \|/)
    expect(md).toMatch(/\| Redis \| \d+\.\d+\.\d+/)
    expect(md).toContain('![bar chart of every scenario](quick.svg)')

    const all = tables(md)
    for (const t of all) {
      const [head, sep, ...body] = t
      expect(head?.length).toBeGreaterThan(1)
      expect(sep?.every((c) => /^-{3}:?$/.test(c))).toBe(true)
      expect(body.length).toBeGreaterThan(0)
      for (const row of body) expect(row).toHaveLength(head?.length ?? -1)
    }
    // Machine, versions, summary, targets, seven scenarios (memory has one table).
    expect(all.length).toBeGreaterThanOrEqual(10)
    const summary = all.find((t) => t[0]?.[0] === 'scenario')
    expect(summary?.slice(2)).toHaveLength(SCENARIOS.length)

    const json = JSON.parse(readFileSync(join(out, 'quick.json'), 'utf8')) as {
      mode: string
      scenarios: Array<{ id: string; rows: string[][] }>
    }
    expect(json.mode).toBe('quick')
    expect(json.scenarios.map((s) => s.id)).toEqual(SCENARIOS)
    for (const s of json.scenarios) expect(s.rows.length).toBeGreaterThan(1)

    const svg = readFileSync(join(out, 'quick.svg'), 'utf8')
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<rect x="380"/g)?.length ?? 0).toBeGreaterThanOrEqual(20)
  }, 300_000)
})
