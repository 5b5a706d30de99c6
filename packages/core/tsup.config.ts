import { herdlessTsup } from '../../tsup.shared'

// `@herdless/core/http/node`: node:http plumbing for adapters (response capture, refresh dispatch).
export default herdlessTsup({ entry: { index: 'src/index.ts', 'http/node': 'src/http/node/index.ts' } })
