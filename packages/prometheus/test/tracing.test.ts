import { type Cache, type CacheOptions, cacheTrace, createCache } from '@herdless/core'
import { registerTracing } from '@herdless/prometheus/tracing'
import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { gate, lockRefused } from './helpers'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = provider.getTracer('test')

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
})
afterAll(async () => {
  context.disable()
  await provider.shutdown()
})

const caches: Array<{ close(): Promise<unknown> }> = []
const registrations: Array<{ unregister(): void }> = []
afterEach(async () => {
  for (const r of registrations.splice(0)) r.unregister()
  await Promise.all(caches.splice(0).map((c) => c.close()))
  exporter.reset()
})

function cache(prefix: string, options: CacheOptions = {}): Cache {
  const c = createCache({ redis: sharedRedis().url, prefix, earlyRefresh: false, bus: false, ...options })
  caches.push(c)
  return c
}

const attrs = (s: ReadableSpan) => s.attributes
const keyGroups = [
  { pattern: 'user:*', group: 'user' },
  { pattern: 'order:*', group: 'order' },
]

describe('registerTracing: one span per cache operation', () => {
  it('records key group, tier, result and lock wait, never a raw key', async () => {
    const prefix = uniquePrefix()
    const b = cache(prefix)
    const a = cache(prefix)
    registrations.push(registerTracing(b, { tracer, keyGroups }))
    const keys = {
      loaded: uniqueKey('user'),
      stale: uniqueKey('user'),
      failing: uniqueKey('order'),
      waited: uniqueKey('order'),
    }

    await b.getOrSet(keys.loaded, () => 'v')
    await b.getOrSet(keys.loaded, () => 'v')
    await b.set(keys.stale, 'old')
    await b.expire(keys.stale)
    expect(await b.getOrSet(keys.stale, () => 'new')).toBe('old')
    await expect(
      b.getOrSet(keys.failing, () => {
        throw new TypeError('database down')
      }),
    ).rejects.toThrow('database down')

    // A (same prefix, so traced too) holds the lock; B waits until A's value is written.
    const slow = gate()
    const started = gate()
    const aLoad = a.getOrSet(keys.waited, async () => {
      started.open()
      await slow.wait
      return 'from-a'
    })
    await started.wait
    const bWait = b.getOrSet(keys.waited, () => 'from-b', { lock: { wait: 150, onTimeout: 'load' } })
    // B's wait ends by timeout (A is still held), so B takes over and loads itself.
    await expect(bWait).resolves.toBe('from-b')
    slow.open()
    await aLoad

    const spans = exporter.getFinishedSpans()
    const summary = spans.map((s) => ({
      name: s.name,
      group: attrs(s)['herdless.key_group'],
      tier: attrs(s)['herdless.tier'],
      result: attrs(s)['herdless.result'],
      error: attrs(s)['error.type'],
      status: s.status.code,
      lockOutcome: attrs(s)['herdless.lock_wait.outcome'],
    }))
    // Order of completion: A's load finishes last.
    expect(summary).toEqual([
      {
        name: 'herdless.getOrSet',
        group: 'user',
        tier: 'loader',
        result: 'miss',
        status: SpanStatusCode.UNSET,
      },
      { name: 'herdless.getOrSet', group: 'user', tier: 'l2', result: 'hit', status: SpanStatusCode.UNSET },
      { name: 'herdless.getOrSet', group: 'user', tier: 'l2', result: 'stale', status: SpanStatusCode.UNSET },
      {
        name: 'herdless.getOrSet',
        group: 'order',
        tier: 'loader',
        result: 'miss',
        error: 'TypeError',
        status: SpanStatusCode.ERROR,
      },
      {
        name: 'herdless.getOrSet',
        group: 'order',
        tier: 'loader',
        result: 'miss',
        status: SpanStatusCode.UNSET,
        lockOutcome: 'timeout',
      },
      {
        name: 'herdless.getOrSet',
        group: 'order',
        tier: 'loader',
        result: 'miss',
        status: SpanStatusCode.UNSET,
      },
    ])
    const waited = spans[4]
    expect(waited?.attributes['herdless.lock_wait_ms']).toBeGreaterThanOrEqual(150)
    expect(spans.filter((s) => s.attributes['herdless.lock_wait_ms'] !== undefined)).toHaveLength(1)

    // No attribute, name or status message carries a raw key.
    const text = JSON.stringify(spans.map((s) => ({ n: s.name, a: s.attributes, st: s.status, e: s.events })))
    for (const key of Object.values(keys)) {
      expect(text).not.toContain(key)
      expect(text).not.toContain(key.split(':')[1])
    }
  })

  it('a waiter that gets the holder’s value records the wait with outcome "value"', async () => {
    const prefix = uniquePrefix()
    const clientB = new Redis(sharedRedis().url)
    caches.push({ close: () => clientB.quit() })
    const b = cache(prefix, { redis: clientB })
    const a = cache(prefix)
    registrations.push(registerTracing(b, { tracer }))
    const key = uniqueKey()
    const slow = gate()
    const started = gate()
    const refused = lockRefused(clientB, `${b.entryKey(key)}:lock`)
    const aLoad = a.getOrSet(key, async () => {
      started.open()
      await slow.wait
      return 'from-a'
    })
    await started.wait
    let bLoads = 0
    const bWait = b.getOrSet(key, () => {
      bLoads++
      return 'from-b'
    })
    await refused
    slow.open()
    expect(await bWait).toBe('from-a')
    expect(await aLoad).toBe('from-a')
    expect(bLoads).toBe(0)
    const waited = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['herdless.lock_wait.outcome'] === 'value')
    expect(waited).toHaveLength(1)
    expect(waited[0]?.attributes['herdless.lock_wait_ms']).toBeGreaterThan(0)
  })

  it('spans are children of the span active at the call', async () => {
    const c = cache(uniquePrefix())
    registrations.push(registerTracing(c, { tracer }))
    await tracer.startActiveSpan('GET /users/:id', async (parent) => {
      await c.getOrSet(uniqueKey(), () => 1)
      parent.end()
    })
    const [child, parent] = exporter.getFinishedSpans()
    expect(parent?.name).toBe('GET /users/:id')
    expect(child?.name).toBe('herdless.getOrSet')
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId)
    expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId)
  })

  it('with a cache, traces only that prefix; without one, every cache; unregister stops publishing', async () => {
    const mine = cache(uniquePrefix())
    const other = cache(uniquePrefix())
    const scoped = registerTracing(mine, { tracer })
    await mine.getOrSet(uniqueKey(), () => 1)
    await other.getOrSet(uniqueKey(), () => 2)
    expect(exporter.getFinishedSpans().map((s) => s.attributes['herdless.cache.prefix'])).toEqual([
      mine.prefix,
    ])
    scoped.unregister()
    scoped.unregister()
    expect(cacheTrace.hasSubscribers).toBe(false)
    exporter.reset()

    const everywhere = registerTracing(undefined, { tracer })
    await mine.getOrSet(uniqueKey(), () => 1)
    await other.getOrSet(uniqueKey(), () => 2)
    expect(exporter.getFinishedSpans().map((s) => s.attributes['herdless.cache.prefix'])).toEqual([
      mine.prefix,
      other.prefix,
    ])
    everywhere.unregister()
    expect(cacheTrace.hasSubscribers).toBe(false)
    await mine.getOrSet(uniqueKey(), () => 3)
    expect(exporter.getFinishedSpans()).toHaveLength(2)
  })

  it('uses the global tracer provider when no tracer is given', async () => {
    trace.setGlobalTracerProvider(provider)
    try {
      const c = cache(uniquePrefix())
      registrations.push(registerTracing(c))
      await c.getOrSet(uniqueKey(), () => 1)
      const [span] = exporter.getFinishedSpans()
      expect(span?.instrumentationScope.name).toBe('@herdless/prometheus')
    } finally {
      trace.disable()
    }
  })

  it('rejects a tracer that is not one with E_INVALID_OPTION', () => {
    expect(() => registerTracing(undefined, { tracer: {} as never })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', option: 'tracer' }),
    )
  })
})
