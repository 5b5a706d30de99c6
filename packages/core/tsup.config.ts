import { herdlessTsup } from '../../tsup.shared'

// `tools`: the reply parsers for the CLI (packages/core/src/tools.ts), kept out of the main entry.
// `@herdless/core/http/node`: node:http plumbing for adapters (response capture, refresh dispatch).
// splitting (ESM and CJS): code two entries share goes to one chunk that both load, so the error
// classes (src/errors.ts) and the http constants exist once: an error thrown through `tools` is
// `instanceof` the class exported by the main entry (test/built-entries.test.ts checks the build).
export default herdlessTsup({
  entry: { index: 'src/index.ts', tools: 'src/tools.ts', 'http/node': 'src/http/node/index.ts' },
  splitting: true,
})
