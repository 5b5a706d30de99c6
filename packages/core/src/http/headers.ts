import { createHash } from 'node:crypto'
import type { HttpRequestHeaders, HttpResponseHeaders } from './types'

/** Lower-cased Cache-Control directive names (values dropped: only presence matters here). */
export function cacheControlDirectives(value: unknown): Set<string> {
  const out = new Set<string>()
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]
  for (const v of list) {
    for (const part of String(v).split(',')) {
      const name = part.split('=', 1)[0]?.trim().toLowerCase()
      if (name) out.add(name)
    }
  }
  return out
}

/** `max-age=0` in a request's Cache-Control. */
export function requestMaxAgeZero(value: unknown): boolean {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value]
  return list.some((v) => /(?:^|,)\s*max-age\s*=\s*"?0+"?\s*(?:,|$)/i.test(String(v)))
}

/** What the request asked of caches, when the route respects it. */
export function requestCacheControl(headers: HttpRequestHeaders): 'no-store' | 'refresh' | undefined {
  const cc = headers['cache-control']
  const d = cacheControlDirectives(cc)
  if (d.has('no-store')) return 'no-store'
  if (d.has('no-cache') || requestMaxAgeZero(cc)) return 'refresh'
  if (cc === undefined && cacheControlDirectives(headers.pragma).has('no-cache')) return 'refresh'
  return undefined
}

/** A response header as one string (lists joined), or undefined. */
export function responseHeader(headers: HttpResponseHeaders, name: string): string | undefined {
  const v = headers[name]
  if (v === undefined) return undefined
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  return v.join(', ')
}

/** A weak validator for a body the handler gave no ETag: the body's SHA-1 (not a secret). */
export function computeEtag(body: Uint8Array): string {
  return `W/"${createHash('sha1').update(body).digest('base64url')}"`
}

function opaque(tag: string): string {
  const t = tag.trim()
  return t.startsWith('W/') ? t.slice(2) : t
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): `W/"x"` matches `"x"`; `*` matches any. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const want = opaque(etag)
  for (const candidate of ifNoneMatch.split(',')) {
    const c = candidate.trim()
    if (c === '*' || (c.length > 0 && opaque(c) === want)) return true
  }
  return false
}

/** Headers a 304 may carry (RFC 9110 15.4.5): the validators and caching metadata of the 200. */
export const NOT_MODIFIED_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'content-location',
  'etag',
  'expires',
  'last-modified',
  'vary',
])

/** Representation headers a 304 drops (the body they describe is not sent). */
export const BODY_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-disposition',
  'transfer-encoding',
])

/**
 * Request headers a refresh run must not carry: validators (the run must produce a full 200),
 * Range, body framing (a refresh is a bodiless GET), hop-by-hop headers and cache directives.
 */
const NOT_REPLAYED: ReadonlySet<string> = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'content-length',
  'content-type',
  'transfer-encoding',
  'expect',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'cache-control',
  'pragma',
])

/**
 * The headers of a request, as a copy to replay for a refresh run (a GET that no client waits
 * on): everything the handler may depend on (cookies, accept-*, host, forwarded-*), minus the
 * headers listed above. Headers named in `drop` are left out too (an adapter's marker).
 */
export function refreshRequestHeaders(
  headers: HttpRequestHeaders,
  drop?: string,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined || NOT_REPLAYED.has(name) || name === drop) continue
    out[name] = typeof v === 'string' ? v : [...v]
  }
  return out
}
