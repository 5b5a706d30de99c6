import { herdlessTsup } from '../../tsup.shared'

// `tools`: the reply parsers for the CLI (packages/core/src/tools.ts), kept out of the main entry.
// `@herdless/core/http/node`: node:http plumbing for adapters (response capture, refresh dispatch).
export default herdlessTsup({
  entry: { index: 'src/index.ts', tools: 'src/tools.ts', 'http/node': 'src/http/node/index.ts' },
})
