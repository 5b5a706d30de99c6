import type * as HerdlessCore from '@herdless/core'

/**
 * The @herdless/core build under test. `pnpm bench` builds it into a private snapshot folder and
 * passes its entry in HERDLESS_CORE_ENTRY, so a rebuild of packages/core/dist during the run
 * cannot change or break what is measured; without it (e.g. `pnpm --filter @herdless/benchmarks
 * profile`), the workspace package's dist.
 */
export const coreEntry: string | undefined = process.env.HERDLESS_CORE_ENTRY

export const core: typeof HerdlessCore =
  coreEntry === undefined ? await import('@herdless/core') : await import(coreEntry)

/** URL prefix of the build's files, for telling Herdless frames apart in a CPU profile. */
export const coreDistUrl: string | undefined =
  coreEntry === undefined ? undefined : coreEntry.slice(0, coreEntry.lastIndexOf('/') + 1)
