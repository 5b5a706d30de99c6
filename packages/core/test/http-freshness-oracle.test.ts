/**
 * core/http's hand-written shared-cache rules (responsePolicy) checked against
 * http-cache-semantics in shared mode (heuristic freshness off: Herdless uses the route's ttl
 * where the response states none). Deliberate differences are listed and asserted too, so a
 * change on either side shows up here.
 */
import CachePolicy from 'http-cache-semantics'
import { describe, expect, it } from 'vitest'
import { responsePolicy } from '../src/http/freshness'
import { BASE_ROUTE, resolveRoute } from '../src/http/options'

const route = resolveRoute(BASE_ROUTE, { ttl: '10s', jitter: 0 }, 'test')
const NOW = Date.parse('2026-01-01T00:00:00Z')
const at = (s: number) => new Date(NOW + s * 1000).toUTCString()

const COMBINATIONS: Record<string, string>[] = [
  { 'cache-control': 'max-age=60' },
  { 'cache-control': 'max-age=2' },
  { 'cache-control': 'public, max-age=60' },
  { 'cache-control': 'max-age=60, s-maxage=2' },
  { 'cache-control': 's-maxage=30' },
  { 'cache-control': 'max-age=0' },
  { 'cache-control': 'max-age=abc' },
  { 'cache-control': 'no-store' },
  { 'cache-control': 'no-store, max-age=60' },
  { 'cache-control': 'private, max-age=60' },
  { 'cache-control': 'no-cache' },
  { 'cache-control': 'no-cache, max-age=60' },
  { 'cache-control': 'max-age=60, must-revalidate' },
  { 'cache-control': 'max-age=20, stale-while-revalidate=30' },
  { 'cache-control': 'max-age=20, stale-if-error=30' },
  { 'cache-control': 'max-age="40"' },
  { date: at(0), expires: at(25) },
  { date: at(0), expires: at(-5) },
  { expires: '0' },
  { 'cache-control': 'max-age=60', date: at(0), expires: at(5) },
  { 'cache-control': 'max-age=60', age: '20' },
  { 'cache-control': 'max-age=60', vary: 'accept-language' },
  { 'cache-control': 'max-age=60', vary: '*' },
  { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' },
  { pragma: 'no-cache' },
]

/** Where Herdless is deliberately stricter than the oracle (never looser). */
const STRICTER: Record<string, string> = {
  'cache-control=public, max-age=60|set-cookie=a=1':
    'never stored with Set-Cookie, even with public (the oracle stores it when public)',
}

let clock = NOW
/** The oracle on a clock the test moves (its documented way to test). */
class Oracle extends CachePolicy {
  now(): number {
    return clock
  }
}

/** In http-cache-semantics 4.3 but not in @types/http-cache-semantics 4.2. */
const swrAllowed = (p: CachePolicy): boolean =>
  (p as unknown as { useStaleWhileRevalidate(): boolean }).useStaleWhileRevalidate()

const name = (h: Record<string, string>) =>
  Object.entries(h)
    .map(([k, v]) => `${k}=${v}`)
    .join('|')

describe('responsePolicy agrees with http-cache-semantics (shared cache)', () => {
  for (const headers of COMBINATIONS) {
    it(name(headers), () => {
      clock = NOW
      const ours = responsePolicy(200, headers, 10, route, NOW)
      const theirs = new Oracle(
        { method: 'GET', url: '/', headers: {} },
        { status: 200, headers },
        { shared: true, cacheHeuristic: 0, immutableMinTimeToLive: 0 },
      )
      if (STRICTER[name(headers)] !== undefined) {
        expect(ours.reason).toBeDefined()
        return
      }
      // Stored at all (Herdless also refuses no-cache: it would revalidate on every use).
      const theirStored =
        theirs.storable() &&
        !('no-cache' in theirs.responseHeaders()) &&
        !/no-cache/i.test(headers['cache-control'] ?? '') &&
        !(headers['cache-control'] === undefined && headers.pragma !== undefined)
      const ourStored = ours.reason === undefined
      if (ours.explicit) {
        // Both read the same lifetime from the response.
        const theirTtl = Math.max(0, theirs.maxAge() - theirs.age())
        expect({ ttl: ourStored ? ours.ttl / 1000 : 0 }).toEqual({ ttl: theirStored ? theirTtl : 0 })
        expect(ourStored).toBe(theirStored && theirTtl > 0)
      } else {
        // The response states no lifetime: the oracle (no heuristic) keeps it 0 s, Herdless uses
        // the route's ttl like nginx's proxy_cache_valid. Storability still agrees.
        expect(ourStored).toBe(theirStored && ours.reason !== 'status')
      }
      if (ourStored) {
        // stale-while-revalidate / stale-if-error windows.
        const fresh = ours.ttl
        const swr = ours.staleWhileRevalidate
        if (swr !== undefined) {
          clock = NOW + fresh + swr - 500
          expect(swr === 0 || swrAllowed(theirs)).toBe(true)
          clock = NOW + fresh + swr + 500
          expect(swrAllowed(theirs)).toBe(false)
        }
      }
    })
  }

  it('directive names are case-insensitive (RFC 9111 5.2); the oracle reads MAX-AGE as absent', () => {
    clock = NOW
    const headers = { 'cache-control': 'MAX-AGE=15' }
    expect(responsePolicy(200, headers, 10, route, NOW)).toMatchObject({ reason: undefined, ttl: 15_000 })
    expect(
      new Oracle(
        { method: 'GET', url: '/', headers: {} },
        { status: 200, headers },
        { shared: true },
      ).maxAge(),
    ).not.toBe(15)
  })

  it('proxy-revalidate: the oracle keeps it 0 s fresh; Herdless stores it fresh and never serves it stale', () => {
    const headers = { 'cache-control': 'max-age=60, proxy-revalidate' }
    const ours = responsePolicy(200, headers, 10, route, NOW)
    const theirs = new Oracle(
      { method: 'GET', url: '/', headers: {} },
      { status: 200, headers },
      { shared: true },
    )
    expect(theirs.maxAge()).toBe(0)
    expect(ours).toMatchObject({ reason: undefined, ttl: 60_000, staleWhileRevalidate: 0, staleIfError: 0 })
  })

  it('an Authorization request: the oracle may store public responses; Herdless bypasses unless the route is public', () => {
    const headers = { 'cache-control': 'public, max-age=60' }
    const theirs = new Oracle(
      { method: 'GET', url: '/', headers: { authorization: 'Bearer a' } },
      { status: 200, headers },
      { shared: true },
    )
    expect(theirs.storable()).toBe(true)
    // Herdless's side of this is in the adapter table ("Authorization requests bypass by default").
  })
})
