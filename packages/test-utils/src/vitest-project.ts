import { fileURLToPath } from 'node:url'
import { mergeConfig, type UserWorkspaceConfig } from 'vitest/config'

/** The monorepo root (this file is packages/test-utils/src/vitest-project.ts). */
export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Packages that tests import from source, so in-process tests need no build. @herdless/nestjs is
 * left out on purpose: its decorators need SWC's metadata, so outside its own project (which
 * adds unplugin-swc) it resolves to its built dist.
 */
export const SOURCE_PACKAGES = ['core', 'express', 'fastify', 'prometheus', 'cli'] as const

/**
 * Subpath entries tests import from source too (pure code, so a test and the package agree
 * without a build). `@herdless/core/http/node` is not here: the adapters' tests run it built.
 */
export const SOURCE_SUBPATHS: Record<string, string> = { 'core/tools': 'core/src/tools.ts' }

export const herdlessAliases: { find: RegExp; replacement: string }[] = [
  ...SOURCE_PACKAGES.map((name) => ({
    // Exact match only: `@herdless/core/package.json` and other subpaths keep normal resolution.
    find: new RegExp(`^@herdless/${name}$`),
    replacement: fileURLToPath(new URL(`../../${name}/src/index.ts`, import.meta.url)),
  })),
  ...Object.entries(SOURCE_SUBPATHS).map(([subpath, file]) => ({
    find: new RegExp(`^@herdless/${subpath}$`),
    replacement: fileURLToPath(new URL(`../../${file}`, import.meta.url)),
  })),
]

/** What every Herdless test project shares: source aliases, Node environment, timeouts. */
export const projectDefaults: UserWorkspaceConfig = {
  resolve: { alias: herdlessAliases },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
}

/**
 * A project config with the shared defaults, for a package that needs its own
 * `packages/<name>/vitest.config.ts` (the root config then uses that file as the package's
 * project). Import it by relative path: config files are bundled before workspace links resolve.
 *
 * ```ts
 * // packages/nestjs/vitest.config.ts
 * import swc from 'unplugin-swc'
 * import { herdlessProject } from '../test-utils/src/vitest-project'
 * export default herdlessProject({ plugins: [swc.vite()], test: { name: 'nestjs' } })
 * ```
 *
 * Never add the global setup here: the root config runs it once per run and every project
 * inherits what it provides (sharedRedis(), sharedCluster()).
 */
export function herdlessProject(config: UserWorkspaceConfig = {}): UserWorkspaceConfig {
  return mergeConfig(projectDefaults, config)
}
