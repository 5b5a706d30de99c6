import { compileKeyGroups, registerMetrics } from '@herdless/prometheus'
import { type OpenMetricsContentType, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ManualEvents } from './helpers'

function invalid(fn: () => unknown, option: string): void {
  let error: unknown
  try {
    fn()
  } catch (err) {
    error = err
  }
  expect(error).toMatchObject({ code: 'E_INVALID_OPTION', option })
}

describe('registerMetrics options', () => {
  it('rejects bad input with E_INVALID_OPTION naming the option', () => {
    const source = new ManualEvents()
    const registry = new Registry()
    invalid(() => registerMetrics({} as ManualEvents), 'cache')
    invalid(() => registerMetrics(source, { registry: {} as Registry }), 'registry')
    invalid(() => registerMetrics(source, { registry, prefix: 'has space_' }), 'prefix')
    invalid(() => registerMetrics(source, { registry, cacheName: '' }), 'cacheName')
    invalid(() => registerMetrics(source, { registry, buckets: [0.1, 0.05] }), 'buckets')
    invalid(() => registerMetrics(source, { registry, buckets: [] }), 'buckets')
    invalid(() => registerMetrics(source, { registry, buckets: { lockWait: [-1] } }), 'buckets.lockWait')
    invalid(() => registerMetrics(source, { registry, keyGroups: 'user:*' as unknown as [] }), 'keyGroups')
    invalid(
      () => registerMetrics(source, { registry, keyGroups: [{ pattern: 'user:*', group: 'user id' }] }),
      'keyGroups[0].group',
    )
    invalid(
      () => registerMetrics(source, { registry, keyGroups: [{ pattern: '', group: 'user' }] }),
      'keyGroups[0].pattern',
    )
    // Nothing half-registered: the source has no listeners and the registry no metrics.
    expect(source.listenerCount()).toBe(0)
  })

  it('custom buckets reach the histograms', async () => {
    const registry = new Registry()
    const source = new ManualEvents()
    registerMetrics(source, { registry, buckets: { loader: [0.5, 2], lockWait: [0.1] } })
    source.emit('load', { key: 'k', duration: 700, background: false })
    source.emit('lock:wait', { key: 'k', duration: 50, outcome: 'value' })
    const text = await registry.metrics()
    expect(text).toContain(
      'herdless_loader_duration_seconds_bucket{le="0.5",cache="manual",key_group="other",result="ok"} 0',
    )
    expect(text).toContain(
      'herdless_loader_duration_seconds_bucket{le="2",cache="manual",key_group="other",result="ok"} 1',
    )
    expect(text).toContain(
      'herdless_lock_wait_seconds_bucket{le="0.1",cache="manual",key_group="other",outcome="value"} 1',
    )
    expect(text).toContain(
      'herdless_lock_wait_seconds_sum{cache="manual",key_group="other",outcome="value"} 0.05',
    )
  })

  it('label values that are not from the known set are folded, never passed through', async () => {
    const registry = new Registry()
    const source = new ManualEvents()
    registerMetrics(source, { registry })
    source.emit('write:skipped', {
      key: 'k',
      reason: 'user:42 said no',
      error: Object.assign(new Error('x'), { code: 'E_WRITE_SKIPPED' }) as never,
    })
    source.emit('error', { error: { code: 'user:42' } as never, operation: 'get' })
    source.emit('hit', { key: 'k', tier: 'l3' as never })
    const text = await registry.metrics()
    expect(text).toContain('herdless_writes_skipped_total{cache="manual",reason="other"} 1')
    expect(text).toContain('herdless_redis_errors_total{cache="manual",code="E_UNKNOWN"} 1')
    expect(text).toContain(
      'herdless_requests_total{cache="manual",result="hit",tier="other",key_group="other"} 1',
    )
    expect(text).not.toContain('user:42')
  })
})

describe('keyGroups', () => {
  it('globs match the whole key, special characters are literal, the first match wins', () => {
    const group = compileKeyGroups([
      { pattern: 'user:*:avatar', group: 'avatar' },
      { pattern: 'user:*', group: 'user' },
      { pattern: 'a.b?', group: 'ab' },
      { pattern: /^order:\d+$/g, group: 'order' },
    ])
    expect(group('user:1:avatar')).toBe('avatar')
    expect(group('user:1')).toBe('user')
    expect(group('xuser:1')).toBe('other')
    expect(group('a.bc')).toBe('ab')
    expect(group('axbc')).toBe('other')
    expect(group('a.bcd')).toBe('other')
    // A global RegExp keeps lastIndex between test() calls; the flag is dropped so it cannot.
    expect(group('order:1')).toBe('order')
    expect(group('order:1')).toBe('order')
    expect(group('order:x')).toBe('other')
    expect(group.groups).toEqual(['avatar', 'user', 'ab', 'order'])
  })

  it('zero series exist for every group from the start, so ratios and rate() have data', async () => {
    const registry = new Registry()
    registerMetrics(new ManualEvents(), { registry, keyGroups: [{ pattern: 'user:*', group: 'user' }] })
    const text = await registry.metrics()
    for (const key_group of ['user', 'other']) {
      for (const [result, tier] of [
        ['hit', 'l1'],
        ['hit', 'l2'],
        ['miss', 'l1'],
        ['miss', 'l2'],
        ['stale', 'l1'],
        ['stale', 'l2'],
        ['bypass', 'none'],
      ]) {
        expect(text).toContain(
          `herdless_requests_total{cache="manual",result="${result}",tier="${tier}",key_group="${key_group}"} 0`,
        )
      }
      expect(text).toContain(`herdless_loader_errors_total{cache="manual",key_group="${key_group}"} 0`)
      expect(text).toContain(`herdless_lock_timeouts_total{cache="manual",key_group="${key_group}"} 0`)
    }
  })

  it('recordBypass counts HTTP bypasses under result="bypass", tier="none"', async () => {
    const registry = new Registry()
    const metrics = registerMetrics(new ManualEvents(), {
      registry,
      keyGroups: [{ pattern: 'GET /users*', group: 'users-api' }],
    })
    metrics.recordBypass('GET /users/42')
    metrics.recordBypass()
    metrics.unregister()
    metrics.recordBypass('GET /users/43')
    const text = await registry.metrics()
    expect(text).toContain(
      'herdless_requests_total{cache="manual",result="bypass",tier="none",key_group="users-api"} 1',
    )
    expect(text).toContain(
      'herdless_requests_total{cache="manual",result="bypass",tier="none",key_group="other"} 1',
    )
  })
})

describe('registries', () => {
  it('works with an OpenMetrics registry too', async () => {
    const registry = new Registry<OpenMetricsContentType>()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    const source = new ManualEvents()
    registerMetrics(source, { registry })
    source.emit('stale', { key: 'k', tier: 'l2', reason: 'revalidate' })
    const text = await registry.metrics()
    expect(text).toContain(
      'herdless_requests_total{cache="manual",result="stale",tier="l2",key_group="other"} 1',
    )
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
  })
})
