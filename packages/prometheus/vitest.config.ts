import { fileURLToPath } from 'node:url'
import { herdlessProject } from '../test-utils/src/vitest-project.ts'

/**
 * The shared project plus one alias: tests import the `@herdless/prometheus/tracing` subpath
 * from source, as they do the main entry.
 */
export default herdlessProject({
  resolve: {
    alias: [
      {
        find: /^@herdless\/prometheus\/tracing$/,
        replacement: fileURLToPath(new URL('./src/tracing.ts', import.meta.url)),
      },
    ],
  },
  test: { name: 'prometheus', include: ['test/**/*.test.ts'] },
})
