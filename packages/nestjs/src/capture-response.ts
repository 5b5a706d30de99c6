import { type HandlerResult, STREAMED } from '@herdless/core'
import { StreamableFile } from '@nestjs/common'

/** The parts of an Express response / Fastify reply the interceptor uses. */
export interface ResponseLike {
  statusCode?: number
  raw?: unknown
  getHeaders?: () => Record<string, string | number | readonly string[] | undefined>
  removeHeader?: (name: string) => unknown
}

function isStream(value: object): boolean {
  return (
    value instanceof StreamableFile ||
    (typeof Response !== 'undefined' && value instanceof Response) ||
    (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) ||
    typeof (value as { pipe?: unknown }).pipe === 'function' ||
    typeof (value as { subscribe?: unknown }).subscribe === 'function' ||
    Symbol.asyncIterator in value
  )
}

/**
 * A handler's return value as the bytes Nest would send: objects as JSON, strings as text
 * (text/html on Express, text/plain on Fastify, as their `send` does), bytes as they are.
 * Streams, files and web Responses are not captured (`streamed`): they are sent as made.
 *
 * `live`: the request's own response object still holds what was set for this request
 * (@Header, middleware); a background refresh reads only the route's static headers.
 */
export function captureResponse(
  value: unknown,
  res: ResponseLike,
  route: { status: number; headers: Readonly<Record<string, string>> },
  live: boolean,
): HandlerResult {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && isStream(value)) {
    return STREAMED
  }
  const headers: Record<string, string | number | readonly string[] | undefined> = live
    ? { ...res.getHeaders?.() }
    : { ...route.headers }
  const status = live ? (res.statusCode ?? route.status) : route.status
  let body: Uint8Array
  let type: string | undefined
  if (value === undefined || value === null) body = new Uint8Array(0)
  else if (ArrayBuffer.isView(value)) {
    body = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    type = 'application/octet-stream'
  } else if (typeof value === 'string') {
    body = Buffer.from(value)
    type = res.raw === undefined ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8'
  } else {
    body = Buffer.from(JSON.stringify(value))
    type = 'application/json; charset=utf-8'
  }
  if (type !== undefined && headers['content-type'] === undefined) headers['content-type'] = type
  return { kind: 'captured', status, headers, body }
}
