import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { buildPackages } from '@herdless/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'

/**
 * The built @herdless/core, loaded the way users load it: its three entries (`.`, `./tools`,
 * `./http/node`) must share one copy of the code they have in common, so an error thrown through
 * `@herdless/core/tools` is `instanceof` the class exported by `@herdless/core`, in ESM and in CJS.
 *
 * The checks run in a child node process: in this process vitest aliases `@herdless/core` to its
 * source, which would hide what the build does. The child runs in packages/core and names the
 * package by its own name (Node's self-reference), so the `exports` map decides which file loads.
 */
const coreDir = fileURLToPath(new URL('../packages/core/', import.meta.url))

/** What the child reports, per module system. */
interface Shared {
  /** Thrown by `new TopologyMonitor({})` (tools entry): not a client, so an InvalidOptionError. */
  toolsThrows: string
  /** ...and that error is `instanceof` the main entry's InvalidOptionError and CacheError. */
  toolsErrorIsMainInvalidOptionError: boolean
  toolsErrorIsMainCacheError: boolean
  /** The error's constructor is the main entry's class, not a look-alike copy. */
  toolsErrorConstructorIsMain: boolean
  /** `dispatchRefresh()` with nothing to dispatch resolves to STREAMED: the main entry's object. */
  httpNodeStreamedIsMain: boolean
}

const CHECKS = `
  const main = await load('@herdless/core')
  const tools = await load('@herdless/core/tools')
  const httpNode = await load('@herdless/core/http/node')
  let thrown
  try { new tools.TopologyMonitor({}) } catch (err) { thrown = err }
  const streamed = await httpNode.dispatchRefresh({}, 0, new AbortController().signal)
  console.log(JSON.stringify({
    toolsThrows: thrown?.name,
    toolsErrorIsMainInvalidOptionError: thrown instanceof main.InvalidOptionError,
    toolsErrorIsMainCacheError: thrown instanceof main.CacheError,
    toolsErrorConstructorIsMain: thrown?.constructor === main.InvalidOptionError,
    httpNodeStreamedIsMain: streamed === main.STREAMED,
  }))
`

const LOADERS = {
  esm: 'const load = (specifier) => import(specifier)',
  cjs: `const { createRequire } = await import('node:module')
  const load = createRequire(process.cwd() + '/package.json')`,
}

function check(system: keyof typeof LOADERS): Promise<Shared> {
  const script = `${LOADERS[system]}\n${CHECKS}`
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: coreDir },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`))
        else resolve(JSON.parse(stdout) as Shared)
      },
    )
  })
}

beforeAll(() => {
  buildPackages('@herdless/core')
}, 180_000)

const SHARED: Shared = {
  toolsThrows: 'InvalidOptionError',
  toolsErrorIsMainInvalidOptionError: true,
  toolsErrorIsMainCacheError: true,
  toolsErrorConstructorIsMain: true,
  httpNodeStreamedIsMain: true,
}

describe('@herdless/core entries share one copy of their common code (built package)', () => {
  it('ESM: import() of the three entries', async () => {
    expect(await check('esm')).toEqual(SHARED)
  })

  it('CJS: require() of the three entries', async () => {
    expect(await check('cjs')).toEqual(SHARED)
  })
})
