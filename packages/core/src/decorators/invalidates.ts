import { InvalidKeyError, InvalidOptionError } from '../errors'
import type { AsyncMethodDecorator } from './cached'
import {
  type AnyMethod,
  type CacheSource,
  checkSource,
  decorateMethod,
  type MethodSite,
  resolveSource,
} from './method-decorator'

/** Keys or tags: a list, one string, or a function of the method's arguments returning either. */
export type InvalidationTarget<Args extends unknown[]> =
  | string
  | readonly string[]
  | ((...args: Args) => string | readonly string[])

/** Options of `@invalidates`: the keys and/or tags a method invalidates after it succeeds. */
export interface InvalidatesOptions<Args extends unknown[] = unknown[]> {
  /**
   * Entries to delete everywhere (Redis and every process's L1) once the method succeeds.
   * @example keys: (id: number) => [`user:${id}`]
   */
  keys?: InvalidationTarget<Args>
  /**
   * Tags to invalidate once the method succeeds.
   * @example tags: ['users']
   */
  tags?: InvalidationTarget<Args>
}

/**
 * Run the method, then invalidate: `keys` with `cache.delete`, `tags` with
 * `cache.invalidateTags`. Nothing is invalidated when the method throws (its write did not
 * happen); the targets are computed from the arguments before the method runs.
 *
 * ```ts
 * @invalidates(cache, { keys: (id: number) => [`user:${id}`], tags: ['user-lists'] })
 * async rename(id: number, name: string): Promise<void> { ... }
 * ```
 */
export function invalidates<This = unknown, Args extends unknown[] = unknown[]>(
  cache: CacheSource<This>,
  options: InvalidatesOptions<Args>,
): AsyncMethodDecorator<This, Args> {
  checkSource('@invalidates', cache)
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('@invalidates options', 'an object: { keys } and/or { tags }', options)
  }
  for (const name of Object.keys(options)) {
    if (name !== 'keys' && name !== 'tags') {
      throw new InvalidOptionError(`@invalidates options.${name}`, 'one of: keys, tags', name)
    }
  }
  const { keys, tags } = options
  if (keys === undefined && tags === undefined) {
    throw new InvalidOptionError('@invalidates options', 'an object with keys and/or tags', options)
  }
  checkTarget('keys', keys)
  checkTarget('tags', tags)
  const source = cache as CacheSource<unknown>

  const wrap = (original: AnyMethod, site: MethodSite): AnyMethod =>
    async function invalidatingMethod(this: unknown, ...args: unknown[]): Promise<unknown> {
      const c = resolveSource(source, this, site)
      const keyList = targets(keys as Target, this, args, site, 'keys')
      const tagList = targets(tags as Target, this, args, site, 'tags')
      const result = await original.apply(this, args)
      await Promise.all([
        keyList.length > 0 ? c.delete(keyList) : undefined,
        tagList.length > 0 ? c.invalidateTags(tagList) : undefined,
      ])
      return result
    }
  return ((...args: unknown[]) => decorateMethod('@invalidates', args, wrap)) as AsyncMethodDecorator<
    This,
    Args
  >
}

type Target = InvalidationTarget<unknown[]> | undefined

function checkTarget(name: string, target: unknown): void {
  if (target === undefined || typeof target === 'function') return
  if (isStringList(target)) return
  throw new InvalidOptionError(
    `@invalidates options.${name}`,
    'a non-empty string, an array of them, or a function of the arguments returning either',
    target,
  )
}

function isStringList(value: unknown): value is string | readonly string[] {
  if (typeof value === 'string') return value.length > 0
  return Array.isArray(value) && value.every((v) => typeof v === 'string' && v.length > 0)
}

function targets(
  target: Target,
  self: unknown,
  args: unknown[],
  site: MethodSite,
  name: string,
): readonly string[] {
  if (target === undefined) return []
  const value = typeof target === 'function' ? target.apply(self, args) : target
  if (!isStringList(value)) {
    throw new InvalidKeyError(
      `The ${name} function of @invalidates on ${site.owner(self)}.${site.method} must return a non-empty string or an array of them.`,
      value,
    )
  }
  return typeof value === 'string' ? [value] : value
}
