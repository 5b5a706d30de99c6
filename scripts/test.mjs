#!/usr/bin/env node
// `pnpm test`: make sure Redis is installed, build every package (child-process tests run the
// built dist), run vitest (extra arguments pass through: `pnpm test --project core`), then print
// the totals from the JSON report as the last line: `N passed, N failed[, N skipped]`.
// The report includes the type tests (`*.test-d.ts`, vitest typecheck in the core and nestjs
// projects): a type error there is a failed test, counted like any other.
// Exits non-zero when vitest fails, when the report is missing, or when no test ran.
// A full run (no arguments, or --runtimes) then runs the contract, stampede and coherence suites again on Node 22
// and 24 (scripts/node-runtimes.mjs; HERDLESS_RUNTIMES overrides the list, "" skips). A runtime
// that cannot be installed (no network) is skipped with a warning, and fails the run when CI=true.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureNode, RUNTIME_SUITES, runtimeMajors } from './node-runtimes.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const report = join(root, '.test-results', 'vitest.json')
const ci = process.env.CI === 'true'

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
// `--runtimes`: run the Node 22/24 suites after a filtered run too (a full run always does).
const runtimesFlag = args.indexOf('--runtimes')
if (runtimesFlag !== -1) args.splice(runtimesFlag, 1)
const full = args.length === 0 || runtimesFlag !== -1
const vitestBin = join(
  dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json')),
  'vitest.mjs',
)
// A stale report from an earlier run must never be mistaken for this one.
rmSync(report, { force: true })
const vitest = await run(process.execPath, [vitestBin, 'run', ...args])

/** `file > test title: first line of the message` for each failed test of a report. */
function failuresOf(r) {
  const out = []
  for (const file of r.testResults ?? []) {
    const name = String(file.name ?? '').replace(root, '')
    for (const t of file.assertionResults ?? []) {
      if (t.status !== 'failed') continue
      const message = String(t.failureMessages?.[0] ?? '')
        .split('\n')[0]
        .slice(0, 300)
      out.push(`${name} > ${t.fullName ?? t.title}: ${message}`)
    }
    // A file that failed before any test ran (import error, hook failure) has no test to name.
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'))
      out.push(
        `${name}: ${String(file.message ?? 'the file failed')
          .split('\n')[0]
          .slice(0, 300)}`,
      )
  }
  return out
}

/** Totals of one vitest JSON report, or a message saying why there are none. */
function totals(file, code) {
  if (!existsSync(file)) return { error: `vitest wrote no report at ${file} (exit code ${code})` }
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'))
    return {
      passed: r.numPassedTests ?? 0,
      failed: r.numFailedTests ?? 0,
      skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
      success: r.success !== false,
      failures: failuresOf(r),
    }
  } catch (error) {
    return { error: `cannot read ${file}: ${error.message}` }
  }
}

const main = totals(report, vitest)
if (main.error !== undefined) fail(main.error, vitest || 1)
let passed = main.passed
let failed = main.failed
let skipped = main.skipped
// CI keeps only the tail of the log: the names of the failed tests are printed again at the end.
const failures = main.failures.map((f) => `Node ${process.versions.node.split('.')[0]}: ${f}`)
let exitCode = vitest !== 0 ? vitest : main.success ? 0 : 1
const noRun = main.passed + main.failed === 0

// The same built packages on the other supported runtimes: the child processes these suites
// start (stampede workers, L1 peers) run on the same binary, since they use process.execPath.
for (const major of full ? runtimeMajors() : []) {
  const got = ensureNode(root, major)
  if (got.error !== undefined) {
    console.error(`test.mjs: Node ${major}: ${got.error}`)
    if (ci) {
      console.error('test.mjs: CI=true: a runtime that cannot be installed fails the run')
      exitCode ||= 1
    } else console.error(`test.mjs: Node ${major} suites skipped (CI runs them)`)
    continue
  }
  const file = join(root, '.test-results', `vitest-node${major}.json`)
  rmSync(file, { force: true })
  console.log(`\ntest.mjs: Node ${major} (${got.node}): ${RUNTIME_SUITES.length} suites`)
  const code = await run(got.node, [vitestBin, 'run', `--outputFile.json=${file}`, ...RUNTIME_SUITES])
  const t = totals(file, code)
  if (t.error !== undefined) {
    console.error(`test.mjs: Node ${major}: ${t.error}`)
    exitCode ||= code || 1
    continue
  }
  console.log(`test.mjs: Node ${major}: ${t.passed} passed, ${t.failed} failed`)
  failures.push(...t.failures.map((f) => `Node ${major}: ${f}`))
  passed += t.passed
  failed += t.failed
  skipped += t.skipped
  if (code !== 0 || !t.success || t.passed + t.failed === 0) exitCode ||= code || 1
}

const summary = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`
if (noRun) {
  console.error('test.mjs: no test ran')
  console.log(summary)
  process.exit(1)
}
if (failed > 0 && exitCode === 0) exitCode = 1
if (failures.length > 0) {
  console.log(`\ntest.mjs: failed tests (${failures.length}):`)
  for (const f of failures) console.log(`  FAILED ${f}`)
}
console.log(summary)
process.exit(exitCode)
