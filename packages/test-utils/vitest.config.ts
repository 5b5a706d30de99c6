import { herdlessProject } from './src/vitest-project.ts'

// This package's own project: an example of a package config the root picks up by file.
export default herdlessProject({ test: { name: 'test-utils', include: ['test/**/*.test.ts'] } })
