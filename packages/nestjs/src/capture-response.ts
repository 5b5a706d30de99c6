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
 * The Content-Type Fastify's `reply.send` sends for a string or object body whose type was
 * set: a JSON media type (`application/json`, `+json`...) without a charset gets
 * `; charset=utf-8`, as Fastify adds it on the way out (after the capture).
 */
function fastifyContentType(value: string | number | readonly string[]): string | number | readonly string[] {
  if (typeof value !== 'string') return value
  const semi = value.indexOf(';')
  const mediaType = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase()
  if (!mediaType.includes('json')) return value
  if (semi !== -1 && /(?:^|;)\s*charset\s*=/i.test(value.slice(semi))) return value
  return `${value.trim().replace(/;\s*$/, '')}; charset=utf-8`
}

/**
 * A handler's return value as the bytes Nest would send: objects as JSON, strings as text
 * (text/html on Express, text/plain on Fastify, as their `send` does), bytes as they are; on
 * Fastify a JSON Content-Type the route set gets the `; charset=utf-8` Fastify adds.
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
  let serialized = false
  if (value === undefined || value === null) body = new Uint8Array(0)
  else if (ArrayBuffer.isView(value)) {
    body = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    type = 'application/octet-stream'
  } else if (typeof value === 'string') {
    body = Buffer.from(value)
    serialized = true
    type = res.raw === undefined ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8'
  } else {
    body = Buffer.from(JSON.stringify(value))
    serialized = true
    type = 'application/json; charset=utf-8'
  }
  const declared = headers['content-type']
  if (declared === undefined) {
    if (type !== undefined) headers['content-type'] = type
  } else if (serialized && res.raw !== undefined) {
    headers['content-type'] = fastifyContentType(declared)
  }
  return { kind: 'captured', status, headers, body }
}
