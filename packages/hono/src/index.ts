/**
 * Response-caching middleware for Hono (web `Response`), on the Herdless engine.
 *
 * @module @herdless/hono
 */
export { cacheResponses } from './cache-responses'
export type { FetchApp, HonoCacheOptions } from './types'

/** This package's version. */
export const VERSION = '0.1.0'
