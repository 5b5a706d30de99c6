import { herdlessProject } from '../../packages/test-utils/src/vitest-project.ts'

/**
 * `pnpm soak:consistency` only (scripts/soak-consistency.mjs): the fault soak is not part of
 * `pnpm test`, which picks up *.test.ts. It starts its own servers: no global setup.
 */
export default herdlessProject({
  test: {
    name: 'soak-consistency',
    root: new URL('../../', import.meta.url).pathname,
    include: ['test/consistency/*.soak.ts'],
    testTimeout: 40 * 60_000,
    hookTimeout: 180_000,
  },
})
