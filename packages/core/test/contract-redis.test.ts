import { sharedRedis } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll } from 'vitest'
import { cacheContract } from './contract'

let raw: Redis | undefined
afterAll(async () => {
  await raw?.quit()
})

cacheContract({
  name: 'Redis standalone',
  options: () => ({ redis: sharedRedis().url }),
  async writeRaw(key, bytes) {
    raw ??= new Redis(sharedRedis().url)
    await raw.set(key, bytes)
  },
})
