import { herdlessTsup } from '../../tsup.shared'

export default herdlessTsup({ entry: ['src/index.ts', 'src/tracing.ts'] })
