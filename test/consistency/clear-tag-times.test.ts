import { setTimeout as sleep } from 'node:timers/promises'
import { type Cache, createCache } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

/**
 * Found by the history checker (history-standalone.test.ts, after the fix that makes L2 reads
 * ask Redis for tag times): clear() SCANs and UNLINKs every key of the namespace, tag times
 * included, in SCAN order. While it runs, an entry a tag invalidated long before may still be
 * there after its tag time is gone: a read then finds no tag time, counts the entry as valid and
 * returns it as fresh. docs/consistency.md rule 1: the tag invalidation completed before the
 * read started, so its value must not come back (the clear running at the same time does not
 * change that).
 */
const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

describe('clear() and tag times', () => {
  it('a tag-invalidated entry never reads as fresh while clear() runs', async () => {
    // Whether the tag time goes before the entry depends on SCAN order (random per prefix):
    // up to 8 rounds, stopping at the first one that shows the entry (half of them do).
    const seen: string[] = []
    for (let round = 0; round < 8 && seen.length === 0; round++) {
      const cache = createCache({
        redis: sharedRedis().url,
        prefix: uniquePrefix(),
        l1: false,
        ttl: '1m',
        // A tag lookup that times out counts the entry as valid (failOpen, documented): not this.
        redisTimeout: '5s',
      })
      caches.push(cache)
      cache.on('error', ({ error, operation }) =>
        seen.push(`round ${round}: error ${error.code} in ${operation}`),
      )
      // Enough keys that clear() takes several SCAN batches.
      await Promise.all(Array.from({ length: 1500 }, (_, i) => cache.set(`filler:${i}`, i)))
      // A load that began before invalidateTags stores its entry (tags revoke no lease) and
      // that entry reads as invalidated: its createdAt is older than the tag time.
      let release = () => {}
      const gate = new Promise<void>((r) => {
        release = r
      })
      let began = () => {}
      const loading = new Promise<void>((r) => {
        began = r
      })
      const load = cache.getOrSet(
        'k',
        async () => {
          began()
          await gate
          return 'old'
        },
        { tags: ['t'] },
      )
      await loading
      await sleep(5)
      await cache.invalidateTags('t')
      release()
      await load
      expect(await cache.get('k')).toBeUndefined()
      // Reads while clear() runs: the entry may be there or gone, never valid.
      let done = false
      const clearing = cache.clear().finally(() => {
        done = true
      })
      while (!done) {
        const v = await cache.get('k')
        if (v !== undefined) seen.push(`round ${round}: ${String(v)}`)
      }
      await clearing
    }
    expect(seen).toEqual([])
  })
})
