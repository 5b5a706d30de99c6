/**
 * Fastify plugin: `fastify.cache` and per-route response caching.
 *
 * @module @herdless/fastify
 */
import { herdlessPlugin } from './plugin'

export { herdlessPlugin as herdless } from './plugin'
export { PluginRegistrationError } from './registration-error'
export type { HerdlessFastifyOptions, HttpCacheDefaults, RouteCacheConfig } from './types'

/** This package's version. */
export const VERSION = '0.1.0'

export default herdlessPlugin
