export { cacheResponses } from './cache-responses'
export { invalidate } from './invalidate'
export type { CacheResponsesOptions, HerdlessRequestState } from './types'

export const VERSION = '0.1.0'
