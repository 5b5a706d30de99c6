import { InvalidOptionError } from '@herdless/core'

/**
 * Maps cache keys to a bounded set of names, so that metrics and spans never carry a raw key.
 * A string pattern is a glob over the whole key (`*` any run of characters, `?` one
 * character), like `cache.invalidatePattern()`; a RegExp is tested as given (its g/y flags are
 * dropped so `test()` keeps no state). The first matching entry wins.
 *
 * @example keyGroups: [{ pattern: 'user:*', group: 'user' }, { pattern: /^order:\d+$/, group: 'order' }]
 */
export interface KeyGroup {
  /** A key glob (`user:*`) or a RegExp. */
  pattern: string | RegExp
  /** The label value of keys it matches. */
  group: string
}

/** The group every key that matches no pattern falls into. */
export const OTHER_GROUP = 'other'

const GROUP_NAME = /^[A-Za-z0-9_.:-]{1,64}$/

/** `key => group name`, built once from the options (validated here, never later). */
export type KeyGrouper = ((key: string) => string) & {
  /** Every configured group name (without 'other'), in order, without duplicates. */
  readonly groups: readonly string[]
}

/** Validate `keyGroups` (E_INVALID_OPTION naming `option`) and compile them into a key → group function. */
export function compileKeyGroups(keyGroups: unknown, option = 'keyGroups'): KeyGrouper {
  if (keyGroups === undefined) return Object.assign(() => OTHER_GROUP, { groups: [] })
  if (!Array.isArray(keyGroups)) {
    throw new InvalidOptionError(option, 'an array of { pattern: string | RegExp, group: string }', keyGroups)
  }
  const compiled: Array<{ re: RegExp; group: string }> = []
  for (const [i, item] of keyGroups.entries()) {
    if (typeof item !== 'object' || item === null) {
      throw new InvalidOptionError(`${option}[${i}]`, 'an object { pattern, group }', item)
    }
    const { pattern, group } = item as { pattern?: unknown; group?: unknown }
    if (typeof group !== 'string' || !GROUP_NAME.test(group)) {
      throw new InvalidOptionError(
        `${option}[${i}].group`,
        'a name of 1-64 characters from A-Z a-z 0-9 _ . : - (it becomes a label value)',
        group,
      )
    }
    let re: RegExp
    if (pattern instanceof RegExp) re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''))
    else if (typeof pattern === 'string' && pattern.length > 0) re = globToRegExp(pattern)
    else
      throw new InvalidOptionError(`${option}[${i}].pattern`, 'a non-empty glob string or a RegExp', pattern)
    compiled.push({ re, group })
  }
  const groups = Object.freeze([...new Set(compiled.map((c) => c.group))])
  return Object.assign(
    (key: string): string => {
      for (const { re, group } of compiled) if (re.test(key)) return group
      return OTHER_GROUP
    },
    { groups },
  )
}

function globToRegExp(glob: string): RegExp {
  let src = ''
  for (const ch of glob) {
    if (ch === '*') src += '.*'
    else if (ch === '?') src += '.'
    else src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
  }
  return new RegExp(`^${src}$`, 's')
}
