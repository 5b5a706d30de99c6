import { defineConfig, type Options } from 'tsup'

/**
 * The one build recipe every public package uses: ESM + CJS + .d.ts behind the package's
 * `exports` map. A package's own tsup.config.ts only names what differs (entries, banner).
 */
export function herdlessTsup(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    ...overrides,
  })
}
