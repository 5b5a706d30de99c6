import { herdlessTsup } from '../../tsup.shared'

// `tools`: the reply parsers for the CLI (packages/core/src/tools.ts), kept out of the main entry.
export default herdlessTsup({ entry: ['src/index.ts', 'src/tools.ts'] })
