import { CacheError } from '../errors'

/**
 * Thrown from the response cache's loader so that the engine serves the stale copy
 * (stale-if-error, like nginx's `proxy_cache_use_stale`): the handler answered 5xx/429, or a
 * refresh run was abandoned (streamed, timed out, the app did not answer). Callers meet it
 * only in `load:error` events, or when the stale copy vanished in between (the adapter then
 * sends the handler's own response).
 */
export class HttpHandlerError extends CacheError {
  /** The cache key of the response. */
  declare readonly key: string
  /** The handler's status, or undefined when the run produced no complete response. */
  readonly status: number | undefined
  constructor(key: string, status: number | undefined, detail: string) {
    super(
      'E_HTTP_HANDLER',
      status === undefined
        ? `Refresh of "${key}" produced no storable response (${detail}); the stale copy is kept.`
        : `Handler for "${key}" answered ${status}; the stale copy is served instead (stale-if-error).`,
      { key },
    )
    this.status = status
  }
}
