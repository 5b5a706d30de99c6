import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { REFRESH_REQUEST, STREAMED } from '../adapter'
import { refreshRequestHeaders } from '../headers'
import type { HandlerResult, HttpRequestHeaders } from '../types'
import { ResponseCapture } from './response-capture'

/** A node:http request listener: an Express app, a Koa `app.callback()`, a `(req, res) => {}`. */
export type Dispatch = (req: IncomingMessage, res: ServerResponse) => void

/** What a refresh run needs from the request that triggered it, taken while that request is live. */
export interface RefreshSource {
  /** Where to dispatch the copy (the top-level app); undefined: refreshes are not possible. */
  dispatch: Dispatch | undefined
  /** The request's URL (path and query). */
  url: string
  /** The request's headers; conditional headers are dropped from the copy. */
  headers: HttpRequestHeaders
  /** The client address, kept on the copy for handlers that log it. */
  remoteAddress: string | undefined
  /** Whether the original came over TLS. */
  encrypted: boolean
}

/**
 * Run the handler for a copy of a request no client waits on (a stale-while-revalidate
 * refresh, or a HEAD miss that fills the GET entry): a GET with the original URL and headers
 * (minus validators and body framing) dispatched through the whole app on an in-memory
 * request/response pair, its output captured. Other middleware runs as for any request.
 */
export function dispatchRefresh(
  source: RefreshSource,
  maxBodyBytes: number,
  signal: AbortSignal,
): Promise<HandlerResult> {
  const dispatch = source.dispatch
  if (dispatch === undefined) return Promise.resolve(STREAMED)
  // A socket that never connects: the pair lives in memory. Peer address and TLS-ness are
  // copied so req.ip and req.protocol read as they did for the original request.
  const socket = new Socket()
  if (source.remoteAddress !== undefined) {
    Object.defineProperty(socket, 'remoteAddress', { value: source.remoteAddress })
  }
  if (source.encrypted) Object.defineProperty(socket, 'encrypted', { value: true })
  const req = new IncomingMessage(socket)
  req.method = 'GET'
  req.url = source.url
  const headers = refreshRequestHeaders(source.headers)
  req.headers = headers
  req.rawHeaders = Object.entries(headers).flatMap(([name, v]) =>
    Array.isArray(v) ? v.flatMap((x) => [name, x]) : [name, v],
  )
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.complete = true
  req.push(null)
  Object.defineProperty(req, REFRESH_REQUEST, { value: true })
  const res = new ServerResponse(req)
  const capture = new ResponseCapture(res, {
    live: false,
    maxBodyBytes,
    abandonAfterCloseMs: 0,
    onAbandon: () => {
      // Let a handler that streams (or waits) notice that nobody listens.
      req.emit('close')
      res.emit('close')
    },
  })
  capture.install()
  if (signal.aborted) capture.abandon()
  else signal.addEventListener('abort', () => capture.abandon(), { once: true })
  try {
    dispatch(req, res)
  } catch {
    capture.abandon()
  }
  return capture.result
}
