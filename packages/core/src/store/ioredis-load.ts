import { createRequire } from 'node:module'
import { InvalidOptionError } from '../errors'

type IoredisModule = typeof import('ioredis')

let loaded: IoredisModule | undefined

/**
 * ioredis, loaded on first use: it is an optional peer dependency, so an application that hands
 * Herdless a node-redis client must be able to load @herdless/core without ioredis installed.
 * Only a `redis` URL or options object (Herdless builds the client) needs it.
 */
export function ioredis(): IoredisModule {
  if (loaded !== undefined) return loaded
  // CJS build: __filename; ESM build: import.meta.url (never read in CJS, where it is empty).
  const from = typeof __filename === 'string' ? __filename : import.meta.url
  try {
    loaded = createRequire(from)('ioredis') as IoredisModule
  } catch (err) {
    throw new InvalidOptionError(
      'redis',
      'a client instance, or ioredis installed (`npm i ioredis`) for a URL or options: Herdless builds an ioredis client from those',
      `a URL/options without ioredis (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    )
  }
  return loaded
}
