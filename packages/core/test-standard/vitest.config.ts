import ts from 'typescript'
import type { Plugin } from 'vitest/config'
import { herdlessProject } from '../../test-utils/src/vitest-project.ts'

/**
 * Compile this folder's tests with TypeScript itself, standard (TC39) decorators, the way a
 * TypeScript 5 project without `experimentalDecorators` builds. Vitest's own transformer (Oxc)
 * handles experimentalDecorators but leaves standard decorators unlowered, which Node 20
 * cannot parse. Only test files pass through here; src is compiled as everywhere else.
 */
function standardDecorators(): Plugin {
  return {
    name: 'herdless:typescript-standard-decorators',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0] ?? id
      if (!file.endsWith('.ts') || !file.includes('/packages/core/test-standard/')) return undefined
      const out = ts.transpileModule(code, {
        fileName: file,
        compilerOptions: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          experimentalDecorators: false,
          useDefineForClassFields: true,
          sourceMap: true,
        },
      })
      return { code: out.outputText, map: out.sourceMapText ?? null }
    },
  }
}

export default herdlessProject({
  plugins: [standardDecorators()],
  test: { name: 'core-standard', include: ['**/*.test.ts'] },
})
