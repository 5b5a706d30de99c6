import { type Cache, CacheError, cached, invalidates, type KeyArgsFit } from '@herdless/core'
import { SetMetadata } from '@nestjs/common'
import { CACHE_INVALIDATE_METADATA, CACHEABLE_METADATA } from './constants'
import type { CacheableOptions, CacheInvalidateOptions } from './types'

/**
 * Where CacheExplorer puts the module's cache: an own property of each discovered instance
 * (on the prototype for request-scoped and transient providers, whose instances Nest creates
 * later). Symbol.for, so the ESM and CJS builds of this package agree.
 */
export const BOUND_CACHE = Symbol.for('herdless.nestjs.bound-cache')

/** A provider or controller method decorated before HerdlessModule wired its class. */
export class CacheNotWiredError extends CacheError {
  constructor(owner: string) {
    super(
      'E_INVALID_OPTION',
      `${owner} has @Cacheable/@CacheInvalidate methods but no cache: import HerdlessModule.forRoot() or forRootAsync() into the application, make ${owner} a provider or controller of it, and call these methods once the application has initialised (not from a constructor).`,
    )
  }
}

function boundCache(self: unknown): Cache {
  const cache = (self as { [BOUND_CACHE]?: Cache } | null | undefined)?.[BOUND_CACHE]
  if (cache === undefined) {
    const ctor = (self as { constructor?: { name?: string } } | null | undefined)?.constructor
    throw new CacheNotWiredError(ctor?.name ?? 'this object')
  }
  return cache
}

/** The decorator `@Cacheable` and `@CacheInvalidate` return: experimentalDecorators, async methods. */
export type AsyncMethodDecorator<Args extends unknown[]> = <A extends unknown[], R>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<(...args: A) => Promise<R>> & KeyArgsFit<A, Args>,
) => TypedPropertyDescriptor<(...args: A) => Promise<R>>

type Descriptor = TypedPropertyDescriptor<(...args: unknown[]) => Promise<unknown>>

function withMetadata<Args extends unknown[]>(
  decorate: (target: object, key: string | symbol, descriptor: Descriptor) => Descriptor,
  metadataKey: string,
  options: object,
): AsyncMethodDecorator<Args> {
  return ((target: object, propertyKey: string | symbol, descriptor: Descriptor) => {
    const result = decorate(target, propertyKey, descriptor)
    // Marks the method for CacheExplorer; the wrapper already carries every other metadata key.
    SetMetadata(metadataKey, options)(target, propertyKey, result)
    return result
  }) as AsyncMethodDecorator<Args>
}

/**
 * Cache an async provider or controller method with the module's cache (`cache.getOrSet`):
 * concurrent calls with the same key run it once, across every process.
 *
 * The method is wrapped here, when the class is defined (Nest registers routes before any
 * onModuleInit, so a later wrap would miss controllers); the wrapper keeps the method's name,
 * length and metadata (routes, guards, Swagger). CacheExplorer gives each discovered instance
 * the module's cache at onModuleInit.
 *
 * ```ts
 * @Cacheable({ key: (id: number) => `user:${id}`, ttl: '10m', tags: ['users'] })
 * async findOne(id: number): Promise<User> { ... }
 * ```
 */
export function Cacheable<Args extends unknown[] = unknown[]>(
  options: CacheableOptions<Args> = {},
): AsyncMethodDecorator<Args> {
  const decorate = cached<unknown, Args>(boundCache, options) as unknown as (
    target: object,
    key: string | symbol,
    descriptor: Descriptor,
  ) => Descriptor
  return withMetadata<Args>(decorate, CACHEABLE_METADATA, options)
}

/**
 * Run the method, then invalidate `keys` (cache.delete) and/or `tags`
 * (cache.invalidateTags) in the module's cache. Nothing is invalidated if the method throws.
 *
 * ```ts
 * @CacheInvalidate({ keys: (id: number) => [`user:${id}`], tags: ['user-lists'] })
 * async update(id: number, dto: UpdateUserDto): Promise<User> { ... }
 * ```
 */
export function CacheInvalidate<Args extends unknown[] = unknown[]>(
  options: CacheInvalidateOptions<Args>,
): AsyncMethodDecorator<Args> {
  const decorate = invalidates<unknown, Args>(boundCache, options) as unknown as (
    target: object,
    key: string | symbol,
    descriptor: Descriptor,
  ) => Descriptor
  return withMetadata<Args>(decorate, CACHE_INVALIDATE_METADATA, options)
}
