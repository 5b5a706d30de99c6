import { InvalidKeyError, InvalidOptionError } from '../errors'
import { type CallOptions, DEFAULT_CALL_OPTIONS, resolveCallOptions } from '../options'
import {
  type AnyMethod,
  type CacheSource,
  checkSource,
  decorateMethod,
  type MethodSite,
  methodKey,
  resolveSource,
} from './method-decorator'

/** An async method: the only kind a cache can stand in front of without changing its type. */
export type AsyncMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => Promise<R>

/**
 * `unknown` when a key (or tags) function taking `Args` can be called with a method's
 * arguments `A` (it may read fewer of them), otherwise a type naming the mismatch.
 */
export type KeyArgsFit<A extends unknown[], Args extends unknown[]> = ((...args: Args) => void) extends (
  ...args: A
) => void
  ? unknown
  : {
      /** A compile-time message: this member never exists. */
      'the key function does not accept the method arguments': never
    }

/**
 * A method decorator that works under both compiler modes. TypeScript picks the call
 * signature that matches how it compiles the class: standard decorators (TypeScript 5+, the
 * default) or `experimentalDecorators` (NestJS, TypeORM, Angular). Only async methods fit.
 */
export interface AsyncMethodDecorator<This, Args extends unknown[]> {
  /** Standard (TC39) decorators. */
  <T extends This, A extends unknown[], R>(
    value: AsyncMethod<T, A, R> & KeyArgsFit<A, Args>,
    context: ClassMethodDecoratorContext<T, AsyncMethod<T, A, R>>,
  ): AsyncMethod<T, A, R>
  /** `experimentalDecorators`. */
  <A extends unknown[], R>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<(...args: A) => Promise<R>> & KeyArgsFit<A, Args>,
  ): TypedPropertyDescriptor<(...args: A) => Promise<R>>
}

/** Options of `@cached`: call options, plus the key and tags as functions of the method's arguments. */
export interface CachedOptions<Args extends unknown[] = unknown[]> extends Omit<CallOptions, 'tags'> {
  /**
   * The cache key, from the method's arguments (`this` is the instance).
   * @default `<Class>.<method>:<stableHash(args)>` (see methodKey)
   * @example key: (id: number) => `user:${id}`
   */
  key?: (...args: Args) => string
  /**
   * Tags for invalidateTags(): a list, or a function of the arguments.
   * @example tags: (id: number) => ['users', `user:${id}`]
   */
  tags?: readonly string[] | ((...args: Args) => readonly string[])
}

/**
 * Cache an async method's result with `cache.getOrSet`: concurrent calls with the same key run
 * the method once (in this process and across processes), a stale value is served while one
 * caller refreshes, and Redis trouble falls back to calling the method.
 *
 * ```ts
 * class UserService {
 *   @cached(cache, { key: (id: number) => `user:${id}`, ttl: '10m', tags: ['users'] })
 *   async find(id: number): Promise<User> { ... }
 * }
 * ```
 *
 * Bad options throw InvalidOptionError (E_INVALID_OPTION) when the class is defined.
 */
export function cached<This = unknown, Args extends unknown[] = unknown[]>(
  cache: CacheSource<This>,
  options: CachedOptions<Args> = {},
): AsyncMethodDecorator<This, Args> {
  checkSource('@cached', cache)
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('@cached options', 'an object: { key, ttl, staleTtl, tags, ... }', options)
  }
  const { key, tags, ...rest } = options
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError(
      '@cached options.key',
      'a function of the method arguments returning a string',
      key,
    )
  }
  // Validate every call option now (unknown names included); the cache resolves them per call.
  resolveCallOptions(DEFAULT_CALL_OPTIONS, rest, '@cached options')
  if (tags !== undefined && typeof tags !== 'function') {
    resolveCallOptions(DEFAULT_CALL_OPTIONS, { tags }, '@cached options')
  }
  const source = cache as CacheSource<unknown>
  const keyFn = key as ((...args: unknown[]) => unknown) | undefined
  let tagsFn: ((...args: unknown[]) => readonly string[]) | undefined
  // One hoisted options object: the cache resolves it once and reuses the result.
  let callOptions: CallOptions | undefined = Object.keys(rest).length > 0 ? rest : undefined
  if (typeof tags === 'function') tagsFn = tags as (...args: unknown[]) => readonly string[]
  else if (tags !== undefined) callOptions = { ...rest, tags }

  const wrap = (original: AnyMethod, site: MethodSite): AnyMethod =>
    function cachedMethod(this: unknown, ...args: unknown[]): Promise<unknown> {
      try {
        const c = resolveSource(source, this, site)
        const k =
          keyFn === undefined ? methodKey(site.owner(this), site.method, args) : keyFn.apply(this, args)
        if (typeof k !== 'string' || k.length === 0) {
          throw new InvalidKeyError(
            `The key function of @cached on ${site.owner(this)}.${site.method} returned ${typeof k === 'string' ? 'an empty string' : typeof k}; return a non-empty string.`,
            k,
          )
        }
        const o = tagsFn === undefined ? callOptions : { ...rest, tags: tagsFn.apply(this, args) }
        return c.getOrSet(k, () => original.apply(this, args), o)
      } catch (err) {
        return Promise.reject(err)
      }
    }
  return ((...args: unknown[]) => decorateMethod('@cached', args, wrap)) as AsyncMethodDecorator<This, Args>
}
