/**
 * `@herdless/core/http/node`: node:http plumbing for adapters whose framework hands over
 * `IncomingMessage` / `ServerResponse` (Express, Connect, Koa, plain node:http): capture a
 * handler's response instead of sending it, and dispatch an in-memory copy of a request for a
 * refresh run. Framework-free, like the rest of core.
 *
 * @module @herdless/core/http/node
 */

// Types the signatures above name, so this entry stands on its own.
export type { HandlerResult, HttpRequestHeaders, HttpResponseHeaders } from '../types'
export { type Dispatch, dispatchRefresh, type RefreshSource } from './dispatch-refresh'
export { type CaptureOptions, ResponseCapture } from './response-capture'
