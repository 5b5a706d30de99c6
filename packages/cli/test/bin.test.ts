/** The built binary, as a user runs it: exit codes, stdout/stderr, the shebang. */
import { execFile, execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DoctorReport } from '../src/index'
import { freePort, startRedis, type TestRedis } from './helpers'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const repoRoot = join(packageDir, '..', '..')
const bin = join(packageDir, 'dist', 'bin.js')
/** The `bin` entry pnpm links into node_modules/.bin, relative to the package. */
const linkedBin = (
  JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { bin: { herdless: string } }
).bin.herdless

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: packageDir, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}
const herdless = (...args: string[]) => run(process.execPath, [bin, ...args])

describe('the built herdless binary', () => {
  let good: TestRedis
  let bad: TestRedis
  beforeAll(async () => {
    execFileSync('pnpm', ['--filter', '@herdless/cli', 'build'], { cwd: packageDir, stdio: 'ignore' })
    ;[good, bad] = await Promise.all([
      startRedis({
        args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lfu', '--maxmemory-samples', '10'],
      }),
      startRedis(),
    ])
  }, 120_000)
  afterAll(async () => {
    await good?.stop()
    await bad?.stop()
  })

  it('starts with a node shebang and runs directly', async () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
    const { code, stdout } = await run(bin, ['--version'])
    expect(code).toBe(0)
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  // pnpm links bins during `pnpm install`, before `pnpm build` writes dist/: a bin inside dist/ is
  // skipped in a fresh clone ("WARN Failed to create bin") and `pnpm exec herdless` is not found.
  it('links a committed shim, not build output, so a fresh clone gets the bin at install', async () => {
    expect(normalize(linkedBin).split(/[\\/]/)[0]).not.toBe('dist')
    const shim = join(packageDir, linkedBin)
    expect(readFileSync(shim, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
    const direct = await run(shim, ['--version'])
    expect(direct.code).toBe(0)
    expect(direct.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    // As the README says: `pnpm exec herdless` anywhere in the repository (the root depends on the CLI).
    const viaPnpm = await run('pnpm', ['--dir', repoRoot, 'exec', 'herdless', '--help'])
    expect(viaPnpm.stderr).toBe('')
    expect(viaPnpm.code).toBe(0)
    expect(viaPnpm.stdout).toContain('Usage: herdless <command> <redis-url>')
  })

  it('the shim says to build first when dist/ is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herdless-shim-'))
    try {
      const shim = join(dir, linkedBin)
      mkdirSync(dirname(shim), { recursive: true })
      copyFileSync(join(packageDir, linkedBin), shim)
      const { code, stdout, stderr } = await run(process.execPath, [shim, '--help'])
      expect(code).toBe(2)
      expect(stdout).toBe('')
      expect(stderr).toContain('the CLI is not built')
      expect(stderr).toContain('pnpm build')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('exits 0 with a JSON report on a well-configured server', async () => {
    const { code, stdout, stderr } = await herdless('doctor', good.url, '--json')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as DoctorReport
    expect(report.summary.fail).toBe(0)
    expect(report.exitCode).toBe(0)
  })

  it('exits 1 on a misconfigured server', async () => {
    const { code, stdout } = await herdless('doctor', bad.url, '--json')
    expect(code).toBe(1)
    const report = JSON.parse(stdout) as DoctorReport
    expect(report.findings.filter((f) => f.severity === 'fail').map((f) => f.id)).toEqual([
      'maxmemory',
      'maxmemory-policy',
    ])
  })

  it('exits 2 with a single stderr line when nothing listens', async () => {
    const port = await freePort()
    const { code, stdout, stderr } = await herdless('doctor', `redis://127.0.0.1:${port}`, '--json')
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr.trimEnd().split('\n')).toEqual([
      `herdless: cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    ])
  })

  it('exits 2 on a usage error, 0 on --help', async () => {
    const usage = await herdless('doctor', good.url, '--bogus')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--help')
    const help = await herdless('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: herdless <command> <redis-url>')
  })

  it('answers `help` like --help, and names an unknown option plainly', async () => {
    const help = await herdless('help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: herdless <command> <redis-url>')
    const verbose = await herdless('doctor', good.url, '--verbose')
    expect(verbose.code).toBe(2)
    expect(verbose.stderr.split('\n')[0]).toBe('herdless: unknown option --verbose')
  })

  it('--strict fails on warnings alone; without it the same server passes', async () => {
    const warnOnly = await startRedis({
      args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lfu', '--maxmemory-samples', '5'],
    })
    try {
      const plain = await herdless('doctor', warnOnly.url, '--json')
      expect(plain.code).toBe(0)
      const report = JSON.parse(plain.stdout) as DoctorReport
      expect(report.summary).toMatchObject({ warn: 1, fail: 0 })
      // Numbers as numbers in --json.
      expect(report.findings.find((f) => f.id === 'maxmemory')?.values).toEqual({
        maxmemory: 100 * 1024 * 1024,
      })
      const strict = await herdless('doctor', warnOnly.url, '--strict')
      expect(strict.code).toBe(1)
      expect(strict.stdout).toContain('warn    maxmemory-samples: warn on 1/1 node')
    } finally {
      await warnOnly.stop()
    }
  })

  it('reports the mode the server is in, not the flag', async () => {
    const { stdout } = await herdless('doctor', good.url, '--cluster')
    expect(stdout.split('\n')[0]).toBe(`herdless doctor ${good.url} (standalone, 1 node)`)
  })

  it('prints the topology table', async () => {
    const { code, stdout } = await herdless('topology', good.url)
    expect(code).toBe(0)
    expect(stdout).toContain(`127.0.0.1:${good.port}  primary`)
  })
})
