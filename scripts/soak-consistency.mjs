#!/usr/bin/env node
// `pnpm soak:consistency`: the consistency history checker under faults (bus drops, Redis
// restarts, a primary kill, reshards), longer than in `pnpm test`. Builds @herdless/core (the
// worker processes run the built dist), then runs test/consistency/faults.soak.ts.
//   SOAK_MS=150000        per topology (default 150 s each: 5 min in all; capped at 30 min)
//   SOAK_TOPOLOGY=both    standalone | cluster | both
//   CONSISTENCY_SEED=n    reproduce a run's operation mix
//   SOAK_SHARDED=1        sharded Pub/Sub bus on the cluster
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' })
    child.on('error', (error) => {
      console.error(`soak-consistency: cannot run ${command}: ${error.message}`)
      resolve(127)
    })
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 143)))
  })
}

const ensure = await run(join(root, 'scripts', 'ensure-redis'), [])
if (ensure !== 0) process.exit(ensure)
const build = await run('pnpm', [
  'turbo',
  'run',
  'build',
  '--filter=@herdless/core',
  '--output-logs=errors-only',
])
if (build !== 0) process.exit(build)
const vitest = join(
  dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json')),
  'vitest.mjs',
)
const code = await run(process.execPath, [
  vitest,
  'run',
  '--config',
  'test/consistency/vitest.soak.config.ts',
  ...process.argv.slice(2),
])
process.exit(code)
