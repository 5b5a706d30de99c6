import { type Cache, createCache, isCacheError } from '@herdless/core'
import { registerMetrics } from '@herdless/prometheus'
import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { Counter, Registry, register } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualEvents, nonZeroCounts } from './helpers'

const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

function cache(): Cache {
  const c = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), bus: false, earlyRefresh: false })
  caches.push(c)
  return c
}

const misses = (name: string) =>
  `herdless_requests_total{cache="${name}",key_group="other",result="miss",tier="l2"}`

describe('registering on one registry more than once', () => {
  it('never throws, counts a cache once per cacheName, and keeps counting until the last unregister', async () => {
    const registry = new Registry()
    const x = cache()
    const y = cache()
    const h1 = registerMetrics(x, { registry })
    const h2 = registerMetrics(x, { registry })
    const hy = registerMetrics(y, { registry })
    const hAgain = registerMetrics(x, { registry, cacheName: 'x-again' })

    await x.getOrSet(uniqueKey(), () => 1)
    await y.getOrSet(uniqueKey(), () => 2)
    expect(await nonZeroCounts(registry, (s) => s.name === 'herdless_requests_total')).toEqual({
      [misses(x.prefix)]: 1,
      [misses(y.prefix)]: 1,
      [misses('x-again')]: 1,
    })

    h1.unregister()
    await x.getOrSet(uniqueKey(), () => 3)
    h2.unregister()
    h2.unregister()
    await x.getOrSet(uniqueKey(), () => 4)
    expect(await nonZeroCounts(registry, (s) => s.name === 'herdless_requests_total')).toEqual({
      [misses(x.prefix)]: 2,
      [misses(y.prefix)]: 1,
      [misses('x-again')]: 3,
    })

    hy.unregister()
    hAgain.unregister()
    // Registering again after everything was unregistered reuses the same metrics.
    const h3 = registerMetrics(x, { registry })
    await x.getOrSet(uniqueKey(), () => 5)
    expect(
      (await nonZeroCounts(registry, (s) => s.name === 'herdless_requests_total'))[misses(x.prefix)],
    ).toBe(3)
    h3.unregister()
  })

  it('removes listeners on unregister and leaves other prefixes alone', async () => {
    const registry = new Registry()
    const source = new ManualEvents('src')
    const a = registerMetrics(source, { registry })
    const b = registerMetrics(source, { registry, prefix: 'app_cache_' })
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name)
    expect(names.filter((n) => n.startsWith('herdless_'))).toHaveLength(12)
    expect(names.filter((n) => n.startsWith('app_cache_'))).toHaveLength(12)
    const perRegistration = source.listenerCount() / 2
    expect(perRegistration).toBe(13)
    a.unregister()
    expect(source.listenerCount()).toBe(perRegistration)
    b.unregister()
    expect(source.listenerCount()).toBe(0)
  })

  it('uses prom-client’s global registry by default', async () => {
    const source = new ManualEvents('global')
    const h = registerMetrics(source)
    try {
      source.emit('miss', { key: 'k', tier: 'l2' })
      expect(await register.getSingleMetricAsString('herdless_requests_total')).toContain(
        'herdless_requests_total{cache="global",result="miss",tier="l2",key_group="other"} 1',
      )
    } finally {
      h.unregister()
      for (const m of await register.getMetricsAsJSON()) register.removeSingleMetric(m.name)
    }
  })

  it('a second copy of the package (ESM and CJS both loaded) adopts the metrics already registered', async () => {
    const registry = new Registry()
    const first = new ManualEvents('first')
    first.l1Size = 3
    registerMetrics(first, { registry })
    vi.resetModules()
    const copy = await import('../src/index')
    expect(copy.registerMetrics).not.toBe(registerMetrics)
    const second = new ManualEvents('second')
    second.l1Size = 4
    copy.registerMetrics(second, { registry })
    first.emit('hit', { key: 'a', tier: 'l1' })
    second.emit('hit', { key: 'b', tier: 'l1' })
    const text = await registry.metrics()
    expect(text).toContain(
      'herdless_requests_total{cache="first",result="hit",tier="l1",key_group="other"} 1',
    )
    expect(text).toContain(
      'herdless_requests_total{cache="second",result="hit",tier="l1",key_group="other"} 1',
    )
    expect(text).toContain('herdless_l1_entries{cache="first"} 3')
    expect(text).toContain('herdless_l1_entries{cache="second"} 4')
  })

  it('a name taken by a different metric is a coded error naming the clash', () => {
    const registry = new Registry()
    new Counter({
      name: 'herdless_requests_total',
      help: 'not ours',
      labelNames: ['path'],
      registers: [registry],
    })
    let error: unknown
    try {
      registerMetrics(new ManualEvents(), { registry })
    } catch (err) {
      error = err
    }
    expect(isCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    expect(error).toMatchObject({ option: 'registry' })
    expect((error as Error).message).toContain('"herdless_requests_total"')
    expect((error as Error).message).toContain('use another prefix')
  })
})
