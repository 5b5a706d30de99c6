export { cacheResponses } from './cache-responses'
export type { FetchApp, HonoCacheOptions } from './types'

export const VERSION = '0.1.0'
