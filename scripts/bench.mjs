#!/usr/bin/env node
// `pnpm bench [--quick] [--only <ids>] [--out <dir>] [--no-profile] [--no-build]`: make sure
// redis-server is installed, build @herdless/core with its own tsup config (the bench imports the
// built package, so the numbers are those of the published code), then run
// benchmarks/src/run.ts under tsx with --expose-gc (for the heap numbers). Every other argument is
// passed through to the runner.
//
// The build goes to a private snapshot folder, not packages/core/dist: several people and tools
// rebuild that dist (tsup cleans it first), and a rebuild in the middle of a run used to break the
// worker processes that start later. The snapshot links packages/core/node_modules so the build's
// own dependencies resolve as they do from dist; HERDLESS_CORE_ENTRY tells the bench where it is.
// With --no-build the current packages/core/dist is copied into the snapshot instead.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const benchDir = join(root, 'benchmarks')

/** Run a command; resolve to its exit code. `quiet` keeps its output unless it fails. */
function run(command, args, { cwd = root, quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' })
    let output = ''
    if (quiet) {
      child.stdout.on('data', (d) => {
        output += d
      })
      child.stderr.on('data', (d) => {
        output += d
      })
    }
    const forward = (signal) => child.kill(signal)
    process.on('SIGTERM', forward)
    child.on('error', (error) => {
      console.error(`bench.mjs: cannot run ${command}: ${error.message}`)
      resolve(127)
    })
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward)
      if (quiet && code !== 0) process.stderr.write(output)
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 15))
    })
  })
}

// Ctrl-C reaches the whole process group: the runner stops its redis-server and workers itself.
process.on('SIGINT', () => {})

const args = process.argv.slice(2).filter((a) => a !== '--')
const noBuild = args.includes('--no-build')
const forwarded = args.filter((a) => a !== '--no-build')

const ensure = await run(join(root, 'scripts', 'ensure-redis'), [])
if (ensure !== 0) process.exit(ensure)

const core = join(root, 'packages', 'core')
const snapshot = mkdtempSync(join(tmpdir(), 'herdless-bench-core-'))
process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }))
writeFileSync(join(snapshot, 'package.json'), '{ "type": "module", "private": true }\n')
symlinkSync(join(core, 'node_modules'), join(snapshot, 'node_modules'), 'dir')
const dist = join(snapshot, 'dist')

if (noBuild) {
  if (!existsSync(join(core, 'dist', 'index.js'))) {
    console.error(
      'bench.mjs: --no-build, but packages/core/dist/index.js is missing: pnpm --filter @herdless/core build',
    )
    process.exit(1)
  }
  cpSync(join(core, 'dist'), dist, { recursive: true })
} else {
  process.stdout.write('bench.mjs: building @herdless/core\n')
  const build = await run(
    'pnpm',
    ['--filter', '@herdless/core', 'exec', 'tsup', '--silent', '--out-dir', dist],
    {
      quiet: true,
    },
  )
  if (build !== 0) {
    console.error('bench.mjs: building @herdless/core with its tsup config failed (output above)')
    process.exit(build)
  }
}

process.env.HERDLESS_CORE_ENTRY = pathToFileURL(join(dist, 'index.js')).href
const code = await run(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', join(benchDir, 'src', 'run.ts'), ...forwarded],
  {
    cwd: benchDir,
  },
)
process.exit(code)
