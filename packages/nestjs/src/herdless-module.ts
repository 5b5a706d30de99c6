import {
  type AdapterCache,
  adapterCache,
  Cache,
  createResponseCache,
  InvalidOptionError,
} from '@herdless/core'
import { Inject, Module, type OnModuleDestroy, type Provider } from '@nestjs/common'
import { DiscoveryModule } from '@nestjs/core'
import { CacheExplorer } from './cache-explorer'
import { HERDLESS_CACHE, HERDLESS_RESPONSE_CACHE } from './constants'
import { HttpCacheInterceptor } from './http-cache-interceptor'
import { ConfigurableModuleClass, HERDLESS_MODULE_OPTIONS } from './module-definition'
import type { HerdlessModuleOptions } from './types'

/** The module's cache, and whether the module created it (and so closes it). */
type CacheHandle = AdapterCache

const HANDLE = Symbol('herdless.nestjs.cache-handle')

function createHandle(options: HerdlessModuleOptions): CacheHandle {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('HerdlessModule options', 'an object of createCache() options', options)
  }
  const { cache, http: _http, ...cacheOptions } = options
  // Core's close policy: a cache passed in is the app's, never closed here.
  return adapterCache(cache, cacheOptions, 'HerdlessModule options.')
}

const providers: Provider[] = [
  { provide: HANDLE, useFactory: createHandle, inject: [HERDLESS_MODULE_OPTIONS] },
  { provide: HERDLESS_CACHE, useFactory: (handle: CacheHandle) => handle.cache, inject: [HANDLE] },
  // `constructor(private readonly cache: Cache)` works too, by type.
  { provide: Cache, useExisting: HERDLESS_CACHE },
  {
    provide: HERDLESS_RESPONSE_CACHE,
    useFactory: (handle: CacheHandle, options: HerdlessModuleOptions) =>
      createResponseCache({ ...options.http, cache: handle.cache }),
    inject: [HANDLE, HERDLESS_MODULE_OPTIONS],
  },
  CacheExplorer,
  HttpCacheInterceptor,
]

/**
 * The core `Cache` as a Nest provider.
 *
 * ```ts
 * @Module({ imports: [HerdlessModule.forRoot({ redis: process.env.REDIS_URL, isGlobal: true })] })
 * export class AppModule {}
 * ```
 *
 * `forRootAsync({ imports, useFactory, inject })`, `useClass` and `useExisting` take the
 * options from other providers (ConfigService). On shutdown (onModuleDestroy) the cache the
 * module created is closed, with the Redis connections it opened; a Redis client you passed
 * in, or a `cache` you passed in, is left open.
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [HERDLESS_CACHE, Cache, HERDLESS_RESPONSE_CACHE, HttpCacheInterceptor],
})
export class HerdlessModule extends ConfigurableModuleClass implements OnModuleDestroy {
  readonly #handle: CacheHandle

  constructor(@Inject(HANDLE) handle: CacheHandle) {
    super()
    this.#handle = handle
  }

  async onModuleDestroy(): Promise<void> {
    await this.#handle.close()
  }
}
