import ms from 'ms'
import { InvalidOptionError } from './errors'

/** Milliseconds, or a string such as '250ms', '30s', '5m', '1h', '1d'. */
export type Duration = number | string

/**
 * Node's timers hold a signed 32-bit delay: anything above 2^31-1 ms (about 24.8 days) fires
 * after 1 ms instead (with a TimeoutOverflowWarning). Every option that becomes a timer is
 * bounded by this, so '25d' is an error rather than a timer firing at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1
/**
 * Entry lifetimes (ttl, staleTtl, ...) are added to Date.now(), scaled by jitter and sent as
 * PX: 2^50 ms (about 35,000 years) keeps every sum an exact integer Redis accepts.
 */
export const MAX_TTL_MS = 2 ** 50

const EXPECTED = "a duration: milliseconds >= 0 or a string like '250ms', '30s', '5m', '1h', '1d'"

/**
 * Parse a duration once, when options are resolved; the engine only ever reads numbers.
 * `ms` (vercel/ms) does the string grammar so we do not maintain one. `max` bounds the result
 * (MAX_TIMER_MS for timers, MAX_TTL_MS for lifetimes).
 */
export function toMs(value: unknown, option: string, max: number = MAX_TTL_MS): number {
  let parsed: number | undefined
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) parsed = Math.round(value)
  } else if (typeof value === 'string' && value.length > 0 && value.length <= 100) {
    const n = ms(value.trim() as ms.StringValue)
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) parsed = Math.round(n)
  }
  if (parsed === undefined) throw new InvalidOptionError(option, EXPECTED, value)
  if (parsed > max) {
    throw new InvalidOptionError(
      option,
      max === MAX_TIMER_MS
        ? `at most 2^31-1 ms (about 24.8 days): it becomes a Node timer, and a longer one fires at once`
        : `at most 2^50 ms (about 35,000 years): entry lifetimes are sent to Redis as PX`,
      value,
    )
  }
  return parsed
}

/** A duration that becomes a setTimeout/setInterval delay. */
export function timerMs(value: unknown, option: string): number {
  return toMs(value, option, MAX_TIMER_MS)
}
