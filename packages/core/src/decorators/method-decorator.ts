import type { Cache } from '../cache'
import { InvalidOptionError } from '../errors'
import { stableHash } from './stable-hash'

/** A method as the decorators see it at runtime. */
export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown

/**
 * The cache a decorated method uses: a Cache, or a function of the instance returning one
 * (read on every call, so it can be a DI-injected field or a cache created after the class).
 */
export type CacheSource<This = unknown> = Cache | ((instance: This) => Cache)

/** What the wrapper factory learns about the decorated method. */
export interface MethodSite {
  /** `@cached`, `@invalidates`: names the decorator in error messages. */
  readonly decorator: string
  /** The method's name (a symbol's description, `#name` for a private method). */
  readonly method: string
  /** The name of the class that declares the method, given the `this` of a call. */
  owner(self: unknown): string
}

/** The shape of a TC39 (standard) method decorator context we rely on. */
interface StandardContext {
  kind: string
  name: string | symbol
  private?: boolean
}

function isStandardContext(value: unknown): value is StandardContext {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    'name' in value
  )
}

function nameOf(key: string | symbol): string {
  return typeof key === 'symbol' ? (key.description ?? 'symbol') : key
}

function classNameOf(holder: unknown): string {
  if (typeof holder === 'function') return holder.name || 'anonymous'
  if (typeof holder === 'object' && holder !== null) {
    const ctor = (holder as { constructor?: unknown }).constructor
    if (typeof ctor === 'function') return ctor.name || 'anonymous'
  }
  return 'anonymous'
}

/**
 * Apply a method decorator under either compiler mode, told apart by the arguments:
 * standard decorators call `(value, context)` with `context.kind`; `experimentalDecorators`
 * calls `(target, propertyKey, descriptor)`. The wrapper keeps the method's `name` and
 * `length` and every Reflect metadata key other decorators put on the original (routes,
 * guards, Swagger), so decorator order does not matter.
 */
export function decorateMethod(
  decorator: string,
  args: readonly unknown[],
  wrap: (original: AnyMethod, site: MethodSite) => AnyMethod,
): unknown {
  const [first, second, third] = args
  if (args.length === 2 && isStandardContext(second)) {
    if (second.kind !== 'method' || typeof first !== 'function') {
      throw new InvalidOptionError(`${decorator} target`, 'a class method', `a ${second.kind}`)
    }
    const original = first as AnyMethod
    const method = nameOf(second.name)
    let wrapper: AnyMethod | undefined
    let owner: string | undefined
    const site: MethodSite = {
      decorator,
      method,
      // Standard decorators do not see the class; find it on the first call: the object on
      // `this`'s prototype chain that holds the wrapper (so subclasses share the base's keys).
      owner(self) {
        if (owner !== undefined) return owner
        for (let o: unknown = self; o !== null && o !== undefined; o = Object.getPrototypeOf(o)) {
          if (Object.getOwnPropertyDescriptor(o, second.name)?.value === wrapper) {
            owner = classNameOf(o)
            return owner
          }
        }
        // A private method is on no prototype: name the instance's class, unmemoized.
        return classNameOf(self)
      },
    }
    wrapper = finish(original, wrap(original, site))
    return wrapper
  }
  if (
    args.length === 3 &&
    (typeof first === 'object' || typeof first === 'function') &&
    first !== null &&
    (typeof second === 'string' || typeof second === 'symbol')
  ) {
    const descriptor = third as PropertyDescriptor | undefined
    if (descriptor === undefined || typeof descriptor.value !== 'function') {
      throw new InvalidOptionError(
        `${decorator} target`,
        'a class method',
        descriptor === undefined ? 'a property' : 'an accessor',
      )
    }
    const original = descriptor.value as AnyMethod
    const owner = classNameOf(first)
    const site: MethodSite = { decorator, method: nameOf(second), owner: () => owner }
    descriptor.value = finish(original, wrap(original, site))
    return descriptor
  }
  throw new InvalidOptionError(
    decorator,
    `used as a method decorator: \`${decorator}(cache, options)\` on the line above an async method`,
    args[0],
  )
}

function finish(original: AnyMethod, wrapper: AnyMethod): AnyMethod {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true })
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true })
  copyMetadata(original, wrapper)
  return wrapper
}

interface ReflectMetadata {
  getOwnMetadataKeys?: (target: object) => unknown[]
  getOwnMetadata?: (key: unknown, target: object) => unknown
  defineMetadata?: (key: unknown, value: unknown, target: object) => void
}

/**
 * Copy every own Reflect metadata entry of `from` onto `to`, when a Reflect metadata polyfill
 * (reflect-metadata, as Nest and TypeORM load) is present; core never depends on one.
 */
export function copyMetadata(from: object, to: object): void {
  const R = Reflect as unknown as ReflectMetadata
  const { getOwnMetadataKeys, getOwnMetadata, defineMetadata } = R
  if (
    typeof getOwnMetadataKeys !== 'function' ||
    typeof getOwnMetadata !== 'function' ||
    typeof defineMetadata !== 'function'
  ) {
    return
  }
  for (const key of getOwnMetadataKeys.call(R, from)) {
    defineMetadata.call(R, key, getOwnMetadata.call(R, key, from), to)
  }
}

/** Validate a CacheSource when the decorator is created, so a typo fails at class definition. */
export function checkSource(decorator: string, source: unknown): void {
  if (typeof source === 'function') return
  if (isCacheLike(source)) return
  throw new InvalidOptionError(
    `${decorator}(cache)`,
    'a Cache from createCache() or a function of the instance returning one',
    source,
  )
}

/** The cache for one call; a getter's result is checked every time (it may be DI-injected late). */
export function resolveSource(source: CacheSource<unknown>, self: unknown, site: MethodSite): Cache {
  const cache = typeof source === 'function' ? source(self) : source
  if (!isCacheLike(cache)) {
    throw new InvalidOptionError(
      `${site.decorator}(cache) of ${site.owner(self)}.${site.method}`,
      'a function returning a Cache (is the field set before the first call?)',
      cache,
    )
  }
  return cache
}

function isCacheLike(value: unknown): value is Cache {
  // Duck-typed so a Cache from another copy of the package is accepted.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getOrSet?: unknown }).getOrSet === 'function'
  )
}

/**
 * The key `@cached` uses when given no `key` function: `<Class>.<method>:<stableHash(args)>`.
 * Exported so other code can name (and delete) an entry a decorated method wrote.
 *
 * @example cache.delete(methodKey(UserService, 'find', [42]))
 */
export function methodKey(
  owner: string | { name: string },
  method: string,
  args: readonly unknown[],
): string {
  const name = typeof owner === 'string' ? owner : owner.name
  return `${name}.${method}:${stableHash(args)}`
}
