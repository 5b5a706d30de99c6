import {
  adapterCache,
  type CacheOptions,
  createResponseCache,
  InvalidOptionError,
  type ResponseCacheOptions,
  refreshTimeoutMs,
} from '@herdless/core'
import type { FastifyInstance, onSendAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { PluginRegistrationError } from './registration-error'
import { createRouteHooks } from './route-hooks'
import type { HerdlessFastifyOptions } from './types'

/** Options Fastify itself reads from register() and passes along; never cache options. */
const FASTIFY_KEYS = new Set(['logLevel', 'logSerializers'])

async function herdless(fastify: FastifyInstance, options: HerdlessFastifyOptions): Promise<void> {
  if (fastify.hasDecorator('cache')) throw new PluginRegistrationError()
  const { cache: given, http = {}, ...rest } = options ?? {}
  const coreOptions: CacheOptions = {}
  for (const [name, value] of Object.entries(rest)) {
    if (!FASTIFY_KEYS.has(name)) (coreOptions as Record<string, unknown>)[name] = value
  }
  // A cache passed in is the app's (never closed here); one made from the options is ours.
  const handle = adapterCache(given, coreOptions)
  const { cache, owned } = handle
  try {
    const { key, ...httpRest } = http
    if (key !== undefined && typeof key !== 'function') {
      throw new InvalidOptionError('http.key', 'a function (request) => string | undefined', key)
    }
    const responseOptions: ResponseCacheOptions = {
      onError: (err: unknown) => fastify.log.warn({ err }, '@herdless/fastify: response cache failed open'),
      ...httpRest,
      cache,
    }
    if (responseOptions.ttl === undefined && coreOptions.ttl !== undefined)
      responseOptions.ttl = coreOptions.ttl
    if (responseOptions.staleTtl === undefined && coreOptions.staleTtl !== undefined) {
      responseOptions.staleTtl = coreOptions.staleTtl
    }
    const rc = createResponseCache(responseOptions)
    const hooks = createRouteHooks(fastify, rc, {
      key,
      abandonAfterCloseMs: refreshTimeoutMs(http.refreshTimeout, 'http.refreshTimeout'),
    })
    const preHandler = hooks.preHandler as preHandlerAsyncHookHandler
    const onSend = hooks.onSend as onSendAsyncHookHandler

    fastify.decorate('cache', cache)
    // Global hooks, so routes declared before the plugin finished loading are covered too
    // (onRoute only sees later ones); they return at once for routes without config.cache.
    fastify.addHook('preHandler', preHandler)
    fastify.addHook('onSend', onSend)
    // Validate route configs at registration where possible (routes declared after loading).
    fastify.addHook('onRoute', (route) => {
      const cfg = route.config?.cache
      if (cfg !== undefined && cfg !== false) hooks.configOf(cfg)
    })
  } catch (err) {
    await handle.close()
    throw err
  }
  if (owned) fastify.addHook('onClose', () => handle.close())
}

/**
 * Herdless for Fastify 5: decorates `fastify.cache` and caches the GET/HEAD responses of
 * routes declared after it with `config: { cache: true | { ttl, staleTtl, tags, vary } }`.
 *
 * ```ts
 * await app.register(herdless, { redis: process.env.REDIS_URL, ttl: '30s' })
 * app.get('/products', { config: { cache: { tags: ['products'] } } }, listProducts)
 * ```
 */
export const herdlessPlugin = fp(herdless, { name: '@herdless/fastify', fastify: '5.x' })
