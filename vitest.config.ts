import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig, type TestProjectConfiguration } from 'vitest/config'
import { herdlessProject, projectDefaults, repoRoot } from './packages/test-utils/src/vitest-project.ts'

/**
 * One vitest project per package that has tests, plus `integration` for test/**:
 * - a package with its own `packages/<name>/vitest.config.ts` (e.g. nestjs, which needs
 *   unplugin-swc) is used through that file; build it with herdlessProject() from
 *   packages/test-utils/src/vitest-project.ts to keep the shared aliases and timeouts;
 * - any other package with a `test/` folder gets an inline project running
 *   `packages/<name>/test/**\/*.test.ts`.
 * Run one with `pnpm test --project core`.
 *
 * The global setup lives here, at the root, and nowhere else: vitest runs the root config's
 * globalSetup once per run (even when a project filter leaves the root out) and every project's
 * inject() sees what it provides. Inline projects spread projectDefaults instead of using
 * `extends: true`, which would copy the globalSetup into each project and start a second cluster.
 */
const CONFIG_FILES = ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.config.mjs']

/**
 * Packages with type tests: `packages/<name>/test/**\/*.test-d.ts`, checked by `tsc` under the
 * package's tsconfig in vitest's typecheck mode (core: standard decorators; nestjs:
 * experimentalDecorators). They run with the package's project and count in the JSON report.
 */
const TYPECHECKED = ['core', 'nestjs']

function packageProjects(): TestProjectConfiguration[] {
  const packagesDir = join(repoRoot, 'packages')
  const projects: TestProjectConfiguration[] = []
  for (const name of readdirSync(packagesDir).sort()) {
    const dir = join(packagesDir, name)
    const configFile = CONFIG_FILES.map((file) => join(dir, file)).find((file) => existsSync(file))
    if (configFile) projects.push(configFile)
    else if (existsSync(join(dir, 'test'))) {
      const typecheck = TYPECHECKED.includes(name)
        ? {
            enabled: true,
            include: [`packages/${name}/test/**/*.test-d.ts`],
            tsconfig: `packages/${name}/test/tsconfig.types.json`,
          }
        : undefined
      projects.push(
        herdlessProject({ test: { name, include: [`packages/${name}/test/**/*.test.ts`], typecheck } }),
      )
    }
  }
  return projects
}

export default defineConfig({
  ...projectDefaults,
  test: {
    ...projectDefaults.test,
    globalSetup: ['packages/test-utils/src/global-setup.ts'],
    teardownTimeout: 20_000,
    reporters: ['default', 'json'],
    outputFile: { json: join(repoRoot, '.test-results/vitest.json') },
    projects: [
      ...packageProjects(),
      // core's decorators compiled as standard (TC39) decorators, by TypeScript: see its config.
      'packages/core/test-standard/vitest.config.ts',
      herdlessProject({ test: { name: 'integration', include: ['test/**/*.test.ts'] } }),
    ],
  },
})
