import { herdlessPlugin } from './plugin'

export { herdlessPlugin as herdless } from './plugin'
export { PluginRegistrationError } from './registration-error'
export type { HerdlessFastifyOptions, HttpCacheDefaults, RouteCacheConfig } from './types'

export const VERSION = '0.1.0'

export default herdlessPlugin
