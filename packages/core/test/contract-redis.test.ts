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
  // 2 s deadline: exact loader counts must not be skewed by a loaded CI machine (see contract.ts).
  options: () => ({ redis: sharedRedis().url, redisTimeout: '2s' }),
  async writeRaw(key, bytes) {
    raw ??= new Redis(sharedRedis().url)
    await raw.set(key, bytes)
  },
})
