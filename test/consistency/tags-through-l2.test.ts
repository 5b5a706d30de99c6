import { setTimeout as sleep } from 'node:timers/promises'
import { type Cache, createCache } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

/**
 * Found by the history checker (history-cluster.test.ts): docs/consistency.md rule 1 says a
 * completed invalidation is seen "in every other process, through L2: at once". For tags it is
 * not: a process that already knows a tag's time answers an L2 read from its in-process tag
 * time (Coherence.tagStaleSync), which only the bus message moves, so until that message arrives
 * it classifies an entry the tag invalidated as fresh. Two caches in one process are two
 * "processes" here: separate L1, tag times, epochs and bus subscribers.
 */
const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

const ready = (c: Cache) => new Promise<void>((resolve) => c.once('bus:ready', () => resolve()))

describe('tag invalidation through L2 in another process', () => {
  it('a read that starts after invalidateTags resolved never gets the invalidated entry as fresh', async () => {
    const opts = { redis: sharedRedis().url, prefix: uniquePrefix(), l1: { max: 100 }, ttl: '1m' }
    const a = createCache(opts)
    const b = createCache(opts)
    caches.push(a, b)
    await Promise.all([ready(a), ready(b)])
    const tags = ['t']
    // B learns the tag's time once (it fetches unknown tag times after filling a tagged entry).
    await b.getOrSet('other', () => 0, { tags })
    await sleep(50)
    const seen: string[] = []
    for (let i = 0; i < 20; i++) {
      const key = `k${i}`
      // A loads v1 into L2 (B has never read this key: no L1 copy in B).
      expect(await a.getOrSet(key, () => 'v1', { tags })).toBe('v1')
      await sleep(10)
      await a.invalidateTags(tags)
      // Started after the invalidation completed: through L2 the tag must count at once.
      const r = await b.getOrSetResult(key, () => 'v2', { tags })
      seen.push(`${r.value}/${r.source}`)
    }
    expect(seen.filter((s) => s.startsWith('v1'))).toEqual([])
  })
})
