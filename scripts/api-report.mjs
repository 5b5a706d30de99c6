#!/usr/bin/env node
// `pnpm api`: write the public-surface report of every published entry point with API Extractor
// (packages/<name>/etc/<entry>.api.md, committed). `pnpm api --check` (what CI runs) fails when a
// committed report differs from the built .d.ts: a change to the public API then shows up in
// review as a diff of these files. Both read the built dist: run `pnpm build` first
// (`pnpm api` does it unless `--no-build`).
//
// A type an export names but the entry does not export (`ae-forgotten-export`: an internal seam
// such as core's client interface, Nest's ConfigurableModuleClass) is written into the report
// with a warning comment, so it is reviewed like the rest; any other API Extractor or compiler
// warning fails both modes. TSDoc syntax and missing doc comments are TypeDoc's job (`pnpm run docs`).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Every entry point a published package declares in its `exports` map. */
export const ENTRIES = [
  { pkg: 'core', dts: 'dist/index.d.ts', report: 'core' },
  { pkg: 'core', dts: 'dist/tools.d.ts', report: 'core-tools' },
  { pkg: 'core', dts: 'dist/http/node.d.ts', report: 'core-http-node' },
  { pkg: 'express', dts: 'dist/index.d.ts', report: 'express' },
  { pkg: 'fastify', dts: 'dist/index.d.ts', report: 'fastify' },
  { pkg: 'nestjs', dts: 'dist/index.d.ts', report: 'nestjs' },
  { pkg: 'hono', dts: 'dist/index.d.ts', report: 'hono' },
  { pkg: 'prometheus', dts: 'dist/index.d.ts', report: 'prometheus' },
  { pkg: 'prometheus', dts: 'dist/tracing.d.ts', report: 'prometheus-tracing' },
  { pkg: 'cli', dts: 'dist/index.d.ts', report: 'cli' },
]

const args = process.argv.slice(2)
const check = args.includes('--check')
if (!args.includes('--no-build') && !check) {
  const build = spawnSync('pnpm', ['build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

/**
 * A report as committed: API Extractor names the file a forgotten export was declared in, and
 * tsup's shared .d.ts chunks carry a content hash (`types-HLoFxVHr.d.ts`) that changes with any
 * edit; the position is dropped with it, so only the surface itself can make a diff.
 */
function normalize(text) {
  return text.replace(/dist\/([\w/-]*?)-[A-Za-z0-9_-]{8}\.d\.ts:\d+:\d+/g, 'dist/$1-<chunk>.d.ts')
}

const temp = mkdtempSync(join(tmpdir(), 'herdless-api-'))
const problems = []
const changed = []
try {
  for (const entry of ENTRIES) {
    const projectFolder = join(root, 'packages', entry.pkg)
    const generated = join(temp, entry.report)
    mkdirSync(generated, { recursive: true })
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder,
        mainEntryPointFilePath: join(projectFolder, entry.dts),
        bundledPackages: [],
        compiler: {
          // The d.ts files only: tsup already type-checked the sources.
          overrideTsconfig: {
            compilerOptions: {
              target: 'ES2022',
              lib: ['ES2023'],
              module: 'ESNext',
              moduleResolution: 'Bundler',
              types: ['node'],
              strict: true,
              skipLibCheck: true,
              esModuleInterop: true,
            },
            files: [join(projectFolder, entry.dts)],
          },
        },
        apiReport: {
          enabled: true,
          reportFileName: entry.report,
          // Both modes write to a temp folder; the comparison with etc/ is done below, normalized.
          reportFolder: generated,
          reportTempFolder: join(generated, 'tmp'),
          includeForgottenExports: true,
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        newlineKind: 'lf',
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          extractorMessageReporting: {
            default: { logLevel: 'warning' },
            // No @public/@beta release tags in this repository: semver covers every export.
            'ae-missing-release-tag': { logLevel: 'none' },
            'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
            // Missing doc comments are TypeDoc's notDocumented check (`pnpm run docs`).
            'ae-undocumented': { logLevel: 'none' },
            // Links are TypeDoc's invalidLink check; a link in a type shared by two entries resolves in one only.
            'ae-unresolved-link': { logLevel: 'none' },
          },
          // TSDoc syntax (e.g. `@default '10s'`) is checked by TypeDoc, not here.
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: undefined,
      packageJsonFullPath: join(projectFolder, 'package.json'),
    })
    const result = Extractor.invoke(config, {
      localBuild: true,
      messageCallback(message) {
        message.handled = true
        if (message.logLevel === 'none') return
        // console-*: progress lines ("report created/changed"); a missing report is a change.
        const own = message.messageId.startsWith('ae-') || message.messageId.startsWith('TS')
        if (own && (message.logLevel === 'warning' || message.logLevel === 'error')) {
          const where = message.sourceFilePath
            ? ` (${message.sourceFilePath.replace(root, '')}:${message.sourceFileLine})`
            : ''
          problems.push(`${entry.report}: ${message.messageId}: ${message.text}${where}`)
        }
      },
    })
    const committed = join(projectFolder, 'etc', `${entry.report}.api.md`)
    const report = normalize(readFileSync(join(generated, `${entry.report}.api.md`), 'utf8'))
    if (!existsSync(committed) || readFileSync(committed, 'utf8') !== report) {
      changed.push(`packages/${entry.pkg}/etc/${entry.report}.api.md`)
      if (!check) {
        mkdirSync(join(projectFolder, 'etc'), { recursive: true })
        writeFileSync(committed, report)
      }
    }
    if (!result.succeeded && problems.length === 0) problems.push(`${entry.report}: API Extractor failed`)
  }
} finally {
  rmSync(temp, { recursive: true, force: true })
}

for (const p of problems) console.error(`api: ${p}`)
if (check && changed.length > 0) {
  console.error(
    `api: the public API differs from the committed report in:\n  ${changed.join('\n  ')}\n` +
      'api: if the change is intended, run `pnpm api` and commit the reports (see docs/stability.md).',
  )
} else if (!check && changed.length > 0) console.log(`api: updated ${changed.join(', ')}`)
const failed = problems.length > 0 || (check && changed.length > 0)
console.log(
  `api: ${ENTRIES.length} entry points ${failed ? 'FAILED' : check ? 'match their reports' : 'reported'}`,
)
process.exit(failed ? 1 : 0)
