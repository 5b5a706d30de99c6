/**
 * OpenTelemetry spans from the `herdless:cache` tracing channel (`registerTracing`).
 *
 * @module @herdless/prometheus/tracing
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { TracingChannelSubscribers } from 'node:diagnostics_channel'
import {
  type CacheEventName,
  type CacheListener,
  type CacheTraceContext,
  cacheTrace,
  InvalidOptionError,
} from '@herdless/core'
import { context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import { compileKeyGroups, type KeyGroup } from './key-groups'
import { VERSION } from './version'

export type { KeyGroup } from './key-groups'

/** What registerTracing needs from a cache (a Herdless `Cache` fits). */
export interface TracingSource {
  /** Subscribe to a cache event. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): unknown
  /** Unsubscribe. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): unknown
  /** With a cache: only operations on its prefix are traced. */
  readonly prefix?: string
}

/** Options of `registerTracing()`. */
export interface TracingOptions {
  /** @default trace.getTracer('@herdless/prometheus') from the global tracer provider */
  tracer?: Tracer
  /** Keys reach spans only as `herdless.key_group` ('other' when no pattern matches). */
  keyGroups?: KeyGroup[]
}

/** What `registerTracing()` returns. */
export interface CacheTracing {
  /** Stop tracing; spans still open are ended. Idempotent. */
  unregister(): void
}

/** Span attribute names (low-cardinality by construction: no raw key is ever set). */
export const ATTR = {
  /** The traced operation (`getOrSet`). */
  operation: 'herdless.operation',
  /** The cache prefix. */
  prefix: 'herdless.cache.prefix',
  /** The key's group (`keyGroups`), never the key. */
  keyGroup: 'herdless.key_group',
  /** Where the answer came from: l1, l2 or loader. */
  tier: 'herdless.tier',
  /** hit, miss or stale. */
  result: 'herdless.result',
  /** How long the call waited for another process's lock, in ms. */
  lockWaitMs: 'herdless.lock_wait_ms',
  /** How that wait ended (value, timeout, takeover). */
  lockWaitOutcome: 'herdless.lock_wait.outcome',
  /** The error code when the call failed. */
  errorType: 'error.type',
} as const

interface OpenSpan {
  span: Span
  lockWaitMs: number | undefined
  lockWaitOutcome: string | undefined
}

const RESULTS = new Set(['hit', 'miss', 'stale'])
const TIERS = new Set(['l1', 'l2', 'loader'])

/**
 * Turn the `herdless:cache` tracing channel into OpenTelemetry spans: one span per traced
 * operation (getOrSet past L1 today), a child of whatever span is active at the call, with
 * key group, tier, result and lock wait as attributes. Error messages are not recorded
 * (core's messages name the key); the span gets status ERROR and `error.type` = the code.
 *
 * With `cache`, only operations on its prefix are traced, and its `lock:wait` events supply
 * the lock wait. Without it, every cache in the process is traced.
 */
export function registerTracing(cache?: TracingSource, options: TracingOptions = {}): CacheTracing {
  if (
    cache !== undefined &&
    (typeof cache !== 'object' || cache === null || typeof cache.on !== 'function')
  ) {
    throw new InvalidOptionError('cache', 'a Herdless cache (createCache()) or undefined', cache)
  }
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'an object', options)
  const tracer = options.tracer ?? trace.getTracer('@herdless/prometheus', VERSION)
  if (typeof tracer?.startSpan !== 'function') {
    throw new InvalidOptionError('tracer', 'an OpenTelemetry Tracer', tracer)
  }
  const group = compileKeyGroups(options.keyGroups)
  const prefix = typeof cache?.prefix === 'string' ? cache.prefix : undefined
  const open = new Map<CacheTraceContext, OpenSpan>()
  const current = new AsyncLocalStorage<CacheTraceContext>()

  const finish = (ctx: CacheTraceContext, resolved: boolean): void => {
    const state = open.get(ctx)
    if (state === undefined) return
    open.delete(ctx)
    const { span } = state
    // Core's classification; ctx.result holds the user's resolved value and is never read.
    const result = ctx.outcome
    if (typeof result === 'string' && RESULTS.has(result)) span.setAttribute(ATTR.result, result)
    if (typeof ctx.tier === 'string' && TIERS.has(ctx.tier)) span.setAttribute(ATTR.tier, ctx.tier)
    const lockWait = state.lockWaitMs
    if (lockWait !== undefined) span.setAttribute(ATTR.lockWaitMs, lockWait)
    if (state.lockWaitOutcome !== undefined) span.setAttribute(ATTR.lockWaitOutcome, state.lockWaitOutcome)
    if (!resolved) {
      const type = errorType(ctx.error)
      span.setAttribute(ATTR.errorType, type)
      span.setStatus({ code: SpanStatusCode.ERROR, message: type })
    }
    span.end()
  }

  const handlers: TracingChannelSubscribers<CacheTraceContext> = {
    start(ctx) {
      if (prefix !== undefined && ctx.prefix !== prefix) return
      const span = tracer.startSpan(
        `herdless.${ctx.operation}`,
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            [ATTR.operation]: ctx.operation,
            [ATTR.prefix]: ctx.prefix,
            [ATTR.keyGroup]: group(ctx.key),
          },
        },
        context.active(),
      )
      open.set(ctx, {
        span,
        lockWaitMs: undefined,
        lockWaitOutcome: undefined,
      })
    },
    end(ctx) {
      // `end` fires before any await settles; an error already set means fn threw synchronously.
      if (ctx.error !== undefined) finish(ctx, false)
    },
    asyncStart() {},
    asyncEnd(ctx) {
      finish(ctx, ctx.error === undefined)
    },
    error() {},
  }

  cacheTrace.subscribe(handlers)
  cacheTrace.start.bindStore(current, (ctx) => ctx)
  const onLockWait: CacheListener<'lock:wait'> = (e) => {
    const ctx = current.getStore()
    const state = ctx === undefined ? undefined : open.get(ctx)
    if (state === undefined) return
    state.lockWaitMs = (state.lockWaitMs ?? 0) + e.duration
    state.lockWaitOutcome = e.outcome
  }
  cache?.on('lock:wait', onLockWait)

  let active = true
  return {
    unregister(): void {
      if (!active) return
      active = false
      cacheTrace.unsubscribe(handlers)
      cacheTrace.start.unbindStore(current)
      cache?.off('lock:wait', onLockWait)
      for (const { span } of open.values()) span.end()
      open.clear()
    },
  }
}

function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null | undefined)?.code
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code)) return code
  const name = (error as { name?: unknown } | null | undefined)?.name
  return typeof name === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(name) ? name : 'Error'
}
