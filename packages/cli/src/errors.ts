const BRAND = Symbol.for('herdless.CliError')

/** The stable codes of CLI errors: `E_CONNECT` (Redis unreachable), `E_USAGE` (bad arguments). */
export type CliErrorCode = 'E_CONNECT' | 'E_USAGE'

/** Base of every error the CLI raises; `code` is stable. */
export class CliError extends Error {
  /** The stable code. */
  readonly code: CliErrorCode
  /** @internal Marks CLI errors for isCliError() across package copies. */
  readonly [BRAND] = true

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
  }
}

/** The seed node could not be reached, authenticated against, or answered PING. */
export class ConnectionError extends CliError {
  /** The node that failed, `host:port`. */
  readonly node: string
  constructor(node: string, detail: string, cause?: unknown) {
    super('E_CONNECT', `cannot connect to ${node}: ${detail}`, { cause })
    this.node = node
  }
}

/** The command line is wrong (unknown command or option, missing URL, bad URL). */
export class UsageError extends CliError {
  constructor(message: string) {
    super('E_USAGE', message)
  }
}

/** True for any CliError, also one thrown by another copy of this package. */
export function isCliError(error: unknown): error is CliError {
  return typeof error === 'object' && error !== null && BRAND in error
}
