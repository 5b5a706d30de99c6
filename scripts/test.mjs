#!/usr/bin/env node
// `pnpm test`: make sure Redis is installed, build every package (child-process tests run the
// built dist), run vitest (extra arguments pass through: `pnpm test --project core`), then print
// the totals from the JSON report as the last line: `N passed, N failed[, N skipped]`.
// Exits non-zero when vitest fails, when the report is missing, or when no test ran.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const report = join(root, '.test-results', 'vitest.json')

/** Run a command with inherited stdio; resolve to its exit code (128 + n when killed by a signal). */
function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' })
    // Ctrl-C reaches the whole process group; a SIGTERM sent to this script alone is forwarded.
    const forward = (signal) => child.kill(signal)
    process.on('SIGTERM', forward)
    child.on('error', (error) => {
      console.error(`test.mjs: cannot run ${command}: ${error.message}`)
      resolve(127)
    })
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward)
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15))
    })
  })
}

// Ctrl-C goes to the whole process group: let the child handle it, then report what it did.
process.on('SIGINT', () => {})

function fail(message, code = 1) {
  console.error(`test.mjs: ${message}`)
  process.exit(code)
}

const ensure = await run(join(root, 'scripts', 'ensure-redis'), [])
if (ensure !== 0) fail('scripts/ensure-redis failed', ensure)

const build = await run('pnpm', ['build'])
if (build !== 0) fail('pnpm build failed', build)

const args = process.argv.slice(2)
if (args[0] === '--') args.shift() // `pnpm test -- --project core`
const vitestBin = join(
  dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json')),
  'vitest.mjs',
)
// A stale report from an earlier run must never be mistaken for this one.
rmSync(report, { force: true })
const vitest = await run(process.execPath, [vitestBin, 'run', ...args])

if (!existsSync(report)) fail(`vitest wrote no report at ${report} (exit code ${vitest})`, vitest || 1)
let results
try {
  results = JSON.parse(readFileSync(report, 'utf8'))
} catch (error) {
  fail(`cannot read ${report}: ${error.message}`, vitest || 1)
}
const passed = results.numPassedTests ?? 0
const failed = results.numFailedTests ?? 0
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0)
const summary = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`
if (vitest !== 0) {
  console.log(summary)
  process.exit(vitest)
}
if (passed + failed === 0) {
  console.error('test.mjs: no test ran')
  console.log(summary)
  process.exit(1)
}
if (failed > 0 || results.success === false) {
  console.log(summary)
  process.exit(1)
}
console.log(summary)
