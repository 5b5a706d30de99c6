import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildPackages } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The two checks of the public surface, in CI (`pnpm test` runs this file):
 * - `pnpm api:check`: the built .d.ts of every published entry point match the committed
 *   API Extractor reports (packages/<pkg>/etc/*.api.md): an API change is a reviewed diff;
 * - `pnpm run docs`: the TypeDoc reference builds with its validation (every export documented, no
 *   broken link, nothing referenced but unexported) and no warning.
 */
const root = fileURLToPath(new URL('../', import.meta.url))
const typedocBin = join(
  dirname(createRequire(join(root, 'package.json')).resolve('typedoc/package.json')),
  'bin',
  'typedoc',
)

interface Run {
  code: number
  output: string
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ code, output: `${stdout}${stderr}` })
      },
    )
  })
}

let out: string

beforeAll(() => {
  // The reports are compared with the built .d.ts; turbo makes this a no-op after `pnpm build`.
  buildPackages('./packages/*')
  out = mkdtempSync(join(tmpdir(), 'herdless-docs-'))
}, 180_000)
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('public surface', () => {
  it('the committed API reports match the built packages (pnpm api:check)', async () => {
    const r = await run(['scripts/api-report.mjs', '--check'])
    expect(r.output).toContain('10 entry points match their reports')
    expect(r.output).not.toMatch(/ae-|TS\d{4}/)
    expect(r.code).toBe(0)
  }, 120_000)

  it('the API reference builds with validation and no warning (pnpm run docs)', async () => {
    const r = await run([typedocBin, '--out', out])
    expect(r.output).not.toMatch(/\[warning\]|\[error\]/)
    expect(r.output).toContain('html generated')
    expect(r.code).toBe(0)
  }, 120_000)
})
