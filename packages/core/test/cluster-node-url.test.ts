import { sharedCluster, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cache, createCache, type Logger } from '../src/index'

describe('a plain URL pointing at a cluster node', () => {
  const caches: Cache[] = []
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()))
  })

  it('is reported as E_CLUSTER_NODE with the hint to use { cluster: [...] }', async () => {
    const node = sharedCluster().startupNodes[0]
    if (node === undefined) throw new Error('no cluster node')
    const warns: string[] = []
    const logger: Logger = { warn: (_o, msg) => warns.push(msg ?? ''), error: () => {} }
    const cache = createCache({ redis: `redis://${node.host}:${node.port}`, prefix: uniquePrefix(), logger })
    caches.push(cache)
    const errors: Array<{ code: string; message: string }> = []
    cache.on('error', (e) => errors.push({ code: e.error.code, message: e.error.message }))
    // Callers are still answered (from the loader where the slot lives elsewhere).
    for (let i = 0; i < 10; i++) expect(await cache.getOrSet(uniqueKey('c'), () => i)).toBe(i)
    await waitUntil('E_CLUSTER_NODE', () =>
      errors.some((e) => e.code === 'E_CLUSTER_NODE') ? true : 'not yet',
    )
    const err = errors.find((e) => e.code === 'E_CLUSTER_NODE')
    expect(err?.message).toContain(`${node.host}:${node.port}`)
    expect(err?.message).toContain('{ cluster: [')
    expect(warns.some((w) => w.includes('{ cluster: ['))).toBe(true)
  })

  it('is not reported for a cluster config', async () => {
    const cache = createCache({ redis: { cluster: sharedCluster().startupNodes }, prefix: uniquePrefix() })
    caches.push(cache)
    const codes: string[] = []
    cache.on('error', (e) => codes.push(e.error.code))
    for (let i = 0; i < 10; i++) expect(await cache.getOrSet(uniqueKey('ok'), () => i)).toBe(i)
    expect(codes).toEqual([])
  })
})
