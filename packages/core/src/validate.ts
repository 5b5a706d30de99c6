import { BatchLoaderError, InvalidLoaderError, InvalidValueError } from './errors'

/**
 * Argument checks of the public calls, one line each at the call site, so each rule and its
 * error code exist once (keys are checked in keys.ts, options in options.ts).
 */

export function checkLoader(loader: unknown, call: string, key?: string): void {
  if (typeof loader !== 'function') throw new InvalidLoaderError(call, loader, key)
}

/** `undefined` is never cached (it means "nothing"): set() refuses it instead of storing a hole. */
export function checkValue(value: unknown, key: string): void {
  if (value === undefined) {
    throw new InvalidValueError(
      key,
      `set("${key.slice(0, 200)}", undefined): undefined is never cached; use delete().`,
    )
  }
}

/** A batch loader answers with exactly one value per key it was given. */
export function checkBatch(values: unknown, expected: number): void {
  if (!Array.isArray(values) || values.length !== expected) throw new BatchLoaderError(expected, values)
}

/** The error for a batch loader that answered with the wrong number of values. */
export function batchLengthError(expected: number): BatchLoaderError {
  return new BatchLoaderError(expected)
}
