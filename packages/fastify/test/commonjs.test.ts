/** The built package (run `pnpm turbo run build --filter=@herdless/fastify` first), loaded as CommonJS. */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

it("require('@herdless/fastify') is the plugin itself, with the named exports on it", () => {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const m = require('@herdless/fastify')
       const app = require('fastify')()
       app.register(m, {})
       app.ready().then(async () => {
         console.log(JSON.stringify({ type: typeof m, self: m === m.default && m === m.herdless,
           error: typeof m.PluginRegistrationError, decorated: typeof app.cache.getOrSet }))
         await app.close()
       })`,
    ],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' },
  )
  expect(JSON.parse(out)).toEqual({ type: 'function', self: true, error: 'function', decorated: 'function' })
})
