import { createHash } from 'node:crypto'
import type { HttpRequestHeaders } from './types'

/** Keys longer than this keep a readable head and end in a hash (the cache caps key length). */
const MAX_KEY = 512
const KEEP_PATH = 256

const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * RFC 3986 6.2.2 normalization of percent-encoding: hex digits upper-cased and unreserved
 * characters decoded (`%7e` → `~`, `%41` → `A`). Only rewrites that every router treats as the
 * same URL: no dot-segment removal, no slash merging, no case folding, since a router that sees
 * `/a/../b` and `/b` differently could otherwise fill one entry with the other's response.
 */
function normalizePercent(s: string): string {
  if (!s.includes('%')) return s
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(Number.parseInt(hex, 16))
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`
  })
}

/**
 * `path?query` with percent-encoding normalized and query parameters sorted by name (values
 * of one name keep their order: `a=1&a=2` is not `a=2&a=1`). `+` in the query is a space.
 */
export function normalizeUrl(url: string): { path: string; query: string } {
  const hash = url.indexOf('#')
  const noHash = hash === -1 ? url : url.slice(0, hash)
  const q = noHash.indexOf('?')
  const rawPath = q === -1 ? noHash : noHash.slice(0, q)
  const path = normalizePercent(rawPath) || '/'
  if (q === -1 || q === noHash.length - 1) return { path, query: '' }
  const params = noHash
    .slice(q + 1)
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => normalizePercent(p.replace(/\+/g, '%20')))
  // Stable sort on the name only.
  const named = params.map((p, i) => ({ p, i, name: p.split('=', 1)[0] ?? '' }))
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.i - b.i))
  return { path, query: named.map((x) => x.p).join('&') }
}

/** A request header's value for keying: lists joined, whitespace collapsed. */
export function headerValue(headers: HttpRequestHeaders, name: string): string {
  const v = headers[name]
  if (v === undefined) return ''
  const s = typeof v === 'string' ? v : v.join(', ')
  return s.trim().replace(/\s+/g, ' ')
}

/** Separates a URL key from the hash of a Vary variant (`http:GET:/p~v<sha256>`); matched by pathPatterns. */
export const VARIANT = '~v'

/** Every key the response cache writes starts with this, apart from the application's data keys. */
export const KEY_PREFIX = 'http:'

/**
 * The default key: `http:GET:/path?sorted-query` plus `#name=value&...` for the `vary` headers.
 * HEAD uses the GET entry. Overlong keys keep the start of the path and end in `~<sha256>`.
 */
export function requestKey(
  path: string,
  query: string,
  vary: readonly string[],
  headers: HttpRequestHeaders,
): string {
  let key = query === '' ? `${KEY_PREFIX}GET:${path}` : `${KEY_PREFIX}GET:${path}?${query}`
  if (vary.length > 0) {
    key += `#${vary.map((h) => `${h}=${encodeURIComponent(headerValue(headers, h))}`).join('&')}`
  }
  if (key.length <= MAX_KEY) return key
  return `${KEY_PREFIX}GET:${path.slice(0, KEEP_PATH)}~${createHash('sha256').update(key).digest('base64url')}`
}

/** Redis glob matching every key `requestKey` can build for `path` (any query, any vary values). */
export function pathPatterns(path: string): { exact: string; pattern: string } {
  const { path: p } = normalizeUrl(path)
  const head = p.length > KEEP_PATH ? p.slice(0, KEEP_PATH) : p
  const escaped = head.replace(/[*?[\]\\]/g, '\\$&')
  return { exact: `${KEY_PREFIX}GET:${p}`, pattern: `${KEY_PREFIX}GET:${escaped}[?#~]*` }
}
