import ms from 'ms'
import { InvalidOptionError } from './errors'

/** Milliseconds, or a string such as '250ms', '30s', '5m', '1h', '1d'. */
export type Duration = number | string

const EXPECTED = "a duration: milliseconds >= 0 or a string like '250ms', '30s', '5m', '1h', '1d'"

/**
 * Parse a duration once, when options are resolved; the engine only ever reads numbers.
 * `ms` (vercel/ms) does the string grammar so we do not maintain one.
 */
export function toMs(value: unknown, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value)
    throw new InvalidOptionError(option, EXPECTED, value)
  }
  if (typeof value === 'string' && value.length > 0 && value.length <= 100) {
    const parsed = ms(value.trim() as ms.StringValue)
    if (typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0) return Math.round(parsed)
  }
  throw new InvalidOptionError(option, EXPECTED, value)
}
