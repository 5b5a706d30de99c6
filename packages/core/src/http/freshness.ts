import type { ResolvedRoute } from './options'
import type { HttpRequestHeaders, HttpResponseHeaders, UncacheableReason } from './types'

/**
 * The shared-cache rules of RFC 9111 and RFC 5861, applied to one handler response: whether it
 * may be stored, how long it is fresh, how long it may be served stale, and which request
 * headers select it (Vary). Pure; `http-cache-semantics` checks it in a test as an oracle.
 */

/** Cache-Control directives, lower-case names; the first occurrence of a directive wins (RFC 9111 4.2.1). */
export function parseCacheControl(value: unknown): Map<string, string | true> {
  const out = new Map<string, string | true>()
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]
  for (const v of list) {
    // Commas inside quoted values (no-cache="a, b") are rare; a split there only adds names.
    for (const part of String(v).split(',')) {
      const eq = part.indexOf('=')
      const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
      if (name === '' || out.has(name)) continue
      out.set(
        name,
        eq === -1
          ? true
          : part
              .slice(eq + 1)
              .trim()
              .replace(/^"|"$/g, ''),
      )
    }
  }
  return out
}

/** delta-seconds (RFC 9111 1.2.2) in ms; anything else (missing value, junk, negative) is 0: already stale. */
function deltaMs(v: string | true | undefined): number {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return 0
  return Math.min(Number(v), 2_147_483_647) * 1000
}

/** What the rules say about one response. */
export interface ResponsePolicy {
  /** Why the response is not stored; undefined: store it. */
  readonly reason: UncacheableReason | undefined
  /** Fresh lifetime (ms). The route's `ttl` when the response states none (or its freshness is ignored). */
  readonly ttl: number
  /** The lifetime came from the response (s-maxage, max-age or Expires): no jitter is applied. */
  readonly explicit: boolean
  /**
   * How long past freshness the copy may be served while one request refreshes it (ms);
   * undefined: as long as the entry lives (the route's `staleTtl`).
   */
  readonly staleWhileRevalidate: number | undefined
  /** How long past freshness the copy may stand in for a failing handler (ms); undefined: as above. */
  readonly staleIfError: number | undefined
  /** Request header names the response varies on (lower-case, sorted, deduplicated). */
  readonly vary: readonly string[]
}

function header(headers: HttpResponseHeaders, name: string): string | undefined {
  const v = headers[name]
  if (v === undefined) return undefined
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  return v.join(', ')
}

/** The response's Vary as header names; `['*']` for `Vary: *`. */
export function varyNames(headers: HttpResponseHeaders): readonly string[] {
  const v = header(headers, 'vary')
  if (v === undefined) return []
  const names = new Set<string>()
  for (const part of v.split(',')) {
    const n = part.trim().toLowerCase()
    if (n === '*') return ['*']
    if (n !== '') names.add(n)
  }
  return [...names].sort()
}

/**
 * Store or not, fresh for how long, stale for how long. Order of the refusals: Set-Cookie,
 * `no-store`, `private`, `no-cache` (a shared cache would have to revalidate on every use: for
 * Herdless that is running the handler, so it is not stored), `Vary: *`, size, status, and a
 * lifetime of zero (`max-age=0`, an `Expires` in the past).
 */
export function responsePolicy(
  status: number,
  headers: HttpResponseHeaders,
  bodyBytes: number,
  route: ResolvedRoute,
  now: number,
): ResponsePolicy {
  const cc = parseCacheControl(headers['cache-control'])
  const vary = varyNames(headers)
  let reason: UncacheableReason | undefined
  if (headers['set-cookie'] !== undefined) reason = 'set-cookie'
  else if (cc.has('no-store')) reason = 'no-store'
  else if (cc.has('private')) reason = 'private'
  else if (
    cc.has('no-cache') ||
    (headers['cache-control'] === undefined && /no-cache/i.test(header(headers, 'pragma') ?? ''))
  )
    reason = 'no-cache'
  else if (vary[0] === '*') reason = 'vary'
  else if (bodyBytes > route.maxBodyBytes) reason = 'too-large'
  else if (!route.statuses.has(status)) reason = 'status'

  if (route.ignoreResponseFreshness) {
    return {
      reason,
      ttl: route.ttl,
      explicit: false,
      staleWhileRevalidate: undefined,
      staleIfError: undefined,
      vary,
    }
  }
  let ttl: number | undefined
  if (cc.has('s-maxage')) ttl = deltaMs(cc.get('s-maxage'))
  else if (cc.has('max-age')) ttl = deltaMs(cc.get('max-age'))
  else {
    const expires = header(headers, 'expires')
    if (expires !== undefined) {
      const at = Date.parse(expires)
      const dateHeader = header(headers, 'date')
      const date = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader)
      // An invalid Expires (such as "0") means already expired (RFC 9111 5.3).
      ttl = Number.isNaN(at) ? 0 : Math.max(0, at - (Number.isNaN(date) ? now : date))
    }
  }
  const explicit = ttl !== undefined
  if (ttl !== undefined) {
    // A response that already aged upstream (a proxied one) has that much less left.
    const age = header(headers, 'age')
    if (age !== undefined) ttl = Math.max(0, ttl - deltaMs(age.trim()))
    if (ttl <= 0 && reason === undefined) reason = 'expired'
  }
  // must-revalidate / proxy-revalidate forbid stale copies outright (RFC 9111 4.2.4); s-maxage
  // implies proxy-revalidate (5.2.2.10), but the stale-* extensions of the same response are an
  // explicit permission (RFC 5861), as CDNs read `s-maxage=60, stale-while-revalidate=30`.
  const forbid = cc.has('must-revalidate') || cc.has('proxy-revalidate')
  const implied = cc.has('s-maxage') ? 0 : undefined
  const window = (name: string): number | undefined =>
    forbid ? 0 : cc.has(name) ? deltaMs(cc.get(name)) : implied
  return {
    reason,
    ttl: ttl ?? route.ttl,
    explicit,
    staleWhileRevalidate: window('stale-while-revalidate'),
    staleIfError: window('stale-if-error'),
    vary,
  }
}

/** A request header's value as Vary compares it: lists joined, whitespace collapsed (RFC 9111 4.1). */
export function varyValue(headers: HttpRequestHeaders, name: string): string {
  const v = headers[name]
  if (v === undefined) return ''
  const s = typeof v === 'string' ? v : v.join(', ')
  return s.trim().replace(/\s+/g, ' ')
}

/** The request's values for `names`, as stored beside a response. */
export function varySnapshot(names: readonly string[], headers: HttpRequestHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of names) out[n] = varyValue(headers, n)
  return out
}

/** A stored response selected by `vary` may answer this request only when every named header matches. */
export function varyMatches(vary: Readonly<Record<string, string>>, headers: HttpRequestHeaders): boolean {
  for (const [name, value] of Object.entries(vary)) if (varyValue(headers, name) !== value) return false
  return true
}
