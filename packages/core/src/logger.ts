import type { CacheError } from './errors'

/**
 * Pino-compatible: an object first, the message second (pino, bunyan-style and most
 * structured loggers take this shape; `console` does too, printing both).
 */
export interface Logger {
  /** Something went wrong and was handled (fail-open): once per cause per window. */
  warn(obj: object, msg?: string): void
  /** Something failed that the caller will see. */
  error(obj: object, msg?: string): void
  /** Repeats and details; optional. */
  debug?(obj: object, msg?: string): void
}

/** One warning per cause per window; repeats go to debug. An outage is one line, not thousands. */
export const WARN_WINDOW_MS = 60_000

/** Codes that all mean "Redis could not be used": one cause, whichever command met it. */
const STORE_CODES = new Set(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT', 'E_CIRCUIT_OPEN'])

/** One line, no stack: the default is a nudge to handle errors, not a log pipeline. */
const CONSOLE: Logger = {
  warn: (obj, msg) => console.warn(`[herdless] ${(obj as { code?: string }).code ?? ''} ${msg ?? ''}`),
  error: (obj, msg) => console.error(`[herdless] ${(obj as { code?: string }).code ?? ''} ${msg ?? ''}`),
}

/**
 * Where errors go besides the `error` event. Failing open is silent by design; without this a
 * script pointed at a dead port prints the loader's value and exits 0 with no word.
 *
 * - `logger` given: every error reaches it (first of a cause at warn, repeats at debug).
 * - `logger: false`: nothing.
 * - absent: console.warn once per cause, only while nobody listens to `error`.
 */
export class ErrorLog {
  readonly #logger: Logger | false | undefined
  readonly #address: string
  /** cause -> when it was last warned about; bounded by the number of codes x operations. */
  readonly #warned = new Map<string, number>()

  constructor(logger: Logger | false | undefined, address: string) {
    this.#logger = logger
    this.#address = address
  }

  report(error: CacheError, operation: string, key: string | undefined, listened: boolean): void {
    if (this.#logger === false || (this.#logger === undefined && listened)) return
    const logger = this.#logger ?? CONSOLE
    const store = STORE_CODES.has(error.code)
    const cause = store ? 'store' : `${error.code}:${operation}`
    const now = Date.now()
    const last = this.#warned.get(cause)
    const obj = { code: error.code, operation, key, err: error }
    try {
      if (last !== undefined && now - last < WARN_WINDOW_MS) {
        logger.debug?.(obj, error.message)
        return
      }
      if (this.#warned.size > 256) this.#warned.clear()
      this.#warned.set(cause, now)
      const hint = this.#logger === undefined ? " (pass `logger` or listen for 'error' to handle this)" : ''
      const msg = store
        ? `Redis unreachable at ${this.#address} (${error.message}); serving from the loader${hint}`
        : `${error.message}${hint}`
      logger.warn(obj, msg)
    } catch {
      // A throwing logger must not break a cache call.
    }
  }
}
