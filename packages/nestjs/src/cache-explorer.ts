import type { Cache, ResponseCache, RouteCacheOptions } from '@herdless/core'
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common'
import { DiscoveryService, MetadataScanner } from '@nestjs/core'
import { BOUND_CACHE } from './cacheable'
import {
  CACHE_INVALIDATE_METADATA,
  CACHEABLE_METADATA,
  HERDLESS_CACHE,
  HERDLESS_RESPONSE_CACHE,
  HTTP_CACHE_METADATA,
} from './constants'

/**
 * Gives every provider and controller with `@Cacheable` / `@CacheInvalidate` methods the module's
 * cache, at onModuleInit, found with DiscoveryService + MetadataScanner (the way
 * @nestjs/schedule finds @Cron). No global variable: two applications in one process (tests)
 * each bind their own cache to their own instances.
 */
@Injectable()
export class CacheExplorer implements OnModuleInit {
  readonly #discovery: DiscoveryService
  readonly #scanner: MetadataScanner
  readonly #cache: Cache
  readonly #responses: ResponseCache
  readonly #logger = new Logger('HerdlessModule')

  // Explicit @Inject: this package is built with esbuild, which emits no design:paramtypes.
  constructor(
    @Inject(DiscoveryService) discovery: DiscoveryService,
    @Inject(MetadataScanner) scanner: MetadataScanner,
    @Inject(HERDLESS_CACHE) cache: Cache,
    @Inject(HERDLESS_RESPONSE_CACHE) responses: ResponseCache,
  ) {
    this.#discovery = discovery
    this.#scanner = scanner
    this.#cache = cache
    this.#responses = responses
  }

  /** Nest's init hook: binds the module's cache to every decorated method. */
  onModuleInit(): void {
    let classes = 0
    const seen = new Set<object>()
    for (const wrapper of [...this.#discovery.getProviders(), ...this.#discovery.getControllers()]) {
      const instance: unknown = wrapper.instance
      if (typeof instance !== 'object' || instance === null || seen.has(instance)) continue
      seen.add(instance)
      const prototype: unknown = Object.getPrototypeOf(instance)
      if (typeof prototype !== 'object' || prototype === null || !this.#decorated(prototype)) continue
      // Request-scoped and transient instances do not exist yet: bind their class instead.
      const target = wrapper.isDependencyTreeStatic() ? instance : prototype
      Object.defineProperty(target, BOUND_CACHE, { value: this.#cache, configurable: true, writable: true })
      classes++
    }
    this.#logger.debug?.(`Bound the cache to ${classes} classes with @Cacheable/@CacheInvalidate methods.`)
    this.#checkRoutes()
  }

  /** Bad `@HttpCache` options fail the application's start (E_INVALID_OPTION), not its first request. */
  #checkRoutes(): void {
    for (const wrapper of this.#discovery.getControllers()) {
      const metatype: unknown = wrapper.metatype
      if (typeof metatype !== 'function') continue
      const prototype: unknown = metatype.prototype
      if (typeof prototype !== 'object' || prototype === null) continue
      const targets: object[] = [metatype]
      for (const name of this.#scanner.getAllMethodNames(prototype)) {
        const method: unknown = (prototype as Record<string, unknown>)[name]
        if (typeof method === 'function') targets.push(method)
      }
      for (const target of targets) {
        const options: unknown = Reflect.getMetadata(HTTP_CACHE_METADATA, target)
        if (options !== undefined) this.#responses.route(options as RouteCacheOptions)
      }
    }
  }

  #decorated(prototype: object): boolean {
    return this.#scanner.getAllMethodNames(prototype).some((name) => {
      const method: unknown = (prototype as Record<string, unknown>)[name]
      if (typeof method !== 'function') return false
      return (
        Reflect.getMetadata(CACHEABLE_METADATA, method) !== undefined ||
        Reflect.getMetadata(CACHE_INVALIDATE_METADATA, method) !== undefined
      )
    })
  }
}
