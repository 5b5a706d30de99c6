/**
 * Response-caching middleware for Express 4 and 5 on the Herdless engine.
 *
 * @module @herdless/express
 */
export { cacheResponses } from './cache-responses'
export { invalidate } from './invalidate'
export type { CacheResponsesOptions, HerdlessRequestState } from './types'

/** This package's version. */
export const VERSION = '0.1.0'
