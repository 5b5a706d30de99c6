/**
 * One table of RFC 9111 / RFC 5861 header combinations, run by every web adapter (Express,
 * Fastify, Nest on both platforms) against the embedded store and real Redis. An adapter
 * supplies `start`: an app with one cached route `/t` whose handler calls `respond`.
 *
 * The clock is moved with a Date.now offset (`at`, seconds from the case's start): freshness
 * is compared with Date.now by the engine and by core/http, so no test sleeps through a TTL.
 * Every step also checks the cross-user invariant: a body produced for one user (Cookie or
 * Authorization) never reaches a request of another user unless the case's route is public.
 */
import type { Cache, RouteCacheOptions } from '@herdless/core'
import { createCache } from '@herdless/core'
import { sharedRedis, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

export interface TableRequest {
  headers: Record<string, string>
}

export interface TableResponse {
  status: number
  headers: Record<string, string>
  body: string
}

export interface TableServer {
  base: string
  close(): Promise<void>
}

export interface StartOptions {
  cache: Cache
  route: RouteCacheOptions
  /** The response headers of every handler run of this case (static per case). */
  headers: Record<string, string>
  /** Called once per handler run. */
  respond(req: TableRequest): TableResponse
}

export type StartServer = (o: StartOptions) => Promise<TableServer>

type X = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

interface Step {
  /** Seconds after the case began (clock offset). */
  at?: number
  req?: Record<string, string> | ((t0: number) => Record<string, string>)
  /** The handler answers 500 from this step on. */
  fail?: boolean
  x: X
  /** Handler runs so far (waited for: a background refresh finishes after the response). */
  calls: number
  status?: number
  /** The handler run whose body this response carries. */
  from?: number
}

interface Case {
  name: string
  route?: RouteCacheOptions
  /** Response headers; t0 is the case's start (ms). */
  headers?: (t0: number) => Record<string, string>
  status?: number
  /** The route is configured public and the response does not vary: users share one body. */
  crossUser?: true
  steps: Step[]
}

const en = { 'accept-language': 'en' }
const fr = { 'accept-language': 'fr' }
const userA = { cookie: 'session=a' }
const userB = { cookie: 'session=b' }
const cc = (v: string) => () => ({ 'cache-control': v })
const http = (ms: number) => new Date(ms).toUTCString()

export const CASES: Case[] = [
  {
    name: 'no freshness in the response: the route ttl (10 s), then STALE while refreshing',
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 5, x: 'HIT', calls: 1, from: 1 },
      { at: 11, x: 'STALE', calls: 2, from: 1 },
      { at: 12, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'max-age=2 bounds the ttl (issue: max-age ignored)',
    headers: cc('max-age=2'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 1, x: 'HIT', calls: 1, from: 1 },
      { at: 3, x: 'STALE', calls: 2, from: 1 },
      { at: 3.5, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 's-maxage=2 wins over max-age=60 and implies proxy-revalidate (issue: s-maxage ignored)',
    headers: cc('max-age=60, s-maxage=2'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 1, x: 'HIT', calls: 1, from: 1 },
      { at: 3, x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 's-maxage=2 with stale-while-revalidate=5: STALE inside the window',
    headers: cc('s-maxage=2, stale-while-revalidate=5'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, x: 'STALE', calls: 2, from: 1 },
      { at: 4, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'max-age=2, stale-while-revalidate=1: past the window the client waits for a fresh copy',
    headers: cc('max-age=2, stale-while-revalidate=1'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 4, x: 'MISS', calls: 2, from: 2 },
      { at: 5, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'must-revalidate: never served stale',
    headers: cc('max-age=2, must-revalidate'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 1, x: 'HIT', calls: 1, from: 1 },
      { at: 3, x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'proxy-revalidate: never served stale',
    headers: cc('max-age=2, proxy-revalidate'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'must-revalidate beats stale-while-revalidate',
    headers: cc('max-age=2, must-revalidate, stale-while-revalidate=60'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'no-cache: not stored (it would need revalidation on every use)',
    headers: cc('no-cache'),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'no-store: not stored (issue)',
    headers: cc('no-store'),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'private: not stored (issue)',
    headers: cc('private, max-age=60'),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Set-Cookie: not stored (issue)',
    headers: () => ({ 'set-cookie': 'session=new', 'cache-control': 'max-age=60' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'max-age=0: not stored',
    headers: cc('max-age=0'),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Pragma: no-cache without Cache-Control: not stored',
    headers: () => ({ pragma: 'no-cache' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Expires 2 s after Date bounds the ttl',
    headers: (t0) => ({ date: http(t0), expires: http(t0 + 2000) }),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 1, x: 'HIT', calls: 1, from: 1 },
      { at: 3, x: 'STALE', calls: 2, from: 1 },
    ],
  },
  {
    name: 'Expires: 0 (invalid) means already expired: not stored',
    headers: () => ({ expires: '0' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'max-age wins over Expires',
    headers: (t0) => ({ 'cache-control': 'max-age=60', date: http(t0), expires: http(t0 + 2000) }),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'Age from upstream shortens max-age',
    headers: () => ({ 'cache-control': 'max-age=7', age: '5' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 1, x: 'HIT', calls: 1, from: 1 },
      { at: 3, x: 'STALE', calls: 2, from: 1 },
    ],
  },
  {
    name: 'a long max-age outlives the route ttl',
    headers: cc('max-age=60'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 30, x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'ignoreResponseFreshness: max-age=1 is ignored, the route ttl applies',
    route: { ignoreResponseFreshness: true },
    headers: cc('max-age=1, must-revalidate'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 5, x: 'HIT', calls: 1, from: 1 },
      { at: 11, x: 'STALE', calls: 2, from: 1 },
    ],
  },
  {
    name: 'ignoreResponseFreshness still honours no-store',
    route: { ignoreResponseFreshness: true },
    headers: cc('no-store'),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Vary: Accept-Language stores one variant per language (issue)',
    headers: () => ({ vary: 'Accept-Language' }),
    steps: [
      { req: en, x: 'MISS', calls: 1 },
      { req: fr, x: 'MISS', calls: 2, from: 2 },
      { req: en, x: 'HIT', calls: 2, from: 1 },
      { req: fr, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Vary: a request without the header is its own variant',
    headers: () => ({ vary: 'accept-language' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { req: en, x: 'MISS', calls: 2, from: 2 },
      { x: 'HIT', calls: 2, from: 1 },
    ],
  },
  {
    name: 'Vary: * is never stored',
    headers: () => ({ vary: '*' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'Cookie requests bypass by default: user b never gets user a body (issue: Vary: Cookie leak)',
    headers: () => ({ vary: 'Cookie' }),
    steps: [
      { req: userA, x: 'BYPASS', calls: 1 },
      { req: userB, x: 'BYPASS', calls: 2, from: 2 },
      { req: userA, x: 'BYPASS', calls: 3, from: 3 },
    ],
  },
  {
    name: 'Cookie requests bypass even when the handler forgets Vary',
    steps: [
      { x: 'MISS', calls: 1 },
      { req: userA, x: 'BYPASS', calls: 2, from: 2 },
      { req: userB, x: 'BYPASS', calls: 3, from: 3 },
      { x: 'HIT', calls: 3, from: 1 },
    ],
  },
  {
    name: 'Authorization requests bypass by default',
    headers: cc('public, max-age=60'),
    steps: [
      { req: { authorization: 'Bearer a' }, x: 'BYPASS', calls: 1 },
      { req: { authorization: 'Bearer b' }, x: 'BYPASS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'public route + Vary: Cookie: one variant per user',
    route: { public: true },
    headers: () => ({ vary: 'Cookie' }),
    steps: [
      { req: userA, x: 'MISS', calls: 1 },
      { req: userB, x: 'MISS', calls: 2, from: 2 },
      { req: userA, x: 'HIT', calls: 2, from: 1 },
      { req: userB, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'public route without Vary: users share one body (configured so)',
    route: { public: true },
    crossUser: true,
    steps: [
      { req: userA, x: 'MISS', calls: 1 },
      { req: userB, x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'route vary: [cookie] keys per user',
    route: { vary: ['cookie'] },
    steps: [
      { req: userA, x: 'MISS', calls: 1 },
      { req: userB, x: 'MISS', calls: 2, from: 2 },
      { req: userA, x: 'HIT', calls: 2, from: 1 },
    ],
  },
  {
    name: 'route vary: [authorization] keys per credential',
    route: { vary: ['authorization'] },
    steps: [
      { req: { authorization: 'Bearer a' }, x: 'MISS', calls: 1 },
      { req: { authorization: 'Bearer b' }, x: 'MISS', calls: 2, from: 2 },
      { req: { authorization: 'Bearer a' }, x: 'HIT', calls: 2, from: 1 },
    ],
  },
  {
    name: 'stale-if-error=10 with no stale-while-revalidate: a failing handler is answered STALE',
    headers: cc('max-age=2, stale-while-revalidate=0, stale-if-error=10'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, fail: true, x: 'STALE', calls: 2, from: 1, status: 200 },
    ],
  },
  {
    name: 'past stale-if-error the failure is sent',
    headers: cc('max-age=2, stale-while-revalidate=0, stale-if-error=1'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 4, fail: true, x: 'MISS', calls: 2, status: 500 },
    ],
  },
  {
    name: 'must-revalidate beats stale-if-error',
    headers: cc('max-age=2, must-revalidate, stale-if-error=60'),
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 3, fail: true, x: 'MISS', calls: 2, status: 500 },
    ],
  },
  {
    name: 'If-Modified-Since at or after Last-Modified: 304',
    headers: (t0) => ({ 'last-modified': http(t0 - 60_000), 'cache-control': 'max-age=60' }),
    steps: [
      { x: 'MISS', calls: 1 },
      { req: (t0) => ({ 'if-modified-since': http(t0) }), x: 'HIT', calls: 1, status: 304 },
      {
        req: (t0) => ({ 'if-modified-since': http(t0 - 3_600_000) }),
        x: 'HIT',
        calls: 1,
        status: 200,
        from: 1,
      },
    ],
  },
  {
    name: 'If-None-Match decides over If-Modified-Since',
    headers: (t0) => ({ 'last-modified': http(t0 - 60_000), etag: '"v1"' }),
    steps: [
      { x: 'MISS', calls: 1 },
      {
        req: (t0) => ({ 'if-none-match': '"other"', 'if-modified-since': http(t0) }),
        x: 'HIT',
        calls: 1,
        status: 200,
        from: 1,
      },
      { req: { 'if-none-match': 'W/"v1"' }, x: 'HIT', calls: 1, status: 304 },
    ],
  },
  {
    name: 'a 404 is not stored',
    status: 404,
    headers: cc('max-age=60'),
    steps: [
      { x: 'MISS', calls: 1, status: 404 },
      { x: 'MISS', calls: 2, status: 404, from: 2 },
    ],
  },
]

interface Parsed {
  n: number
  user: string
}

function parse(body: string): Parsed | undefined {
  const m = /^n=(\d+);lang=[^;]*;user=(.*)$/.exec(body)
  return m === null ? undefined : { n: Number(m[1]), user: m[2] ?? '' }
}

function userOf(h: Record<string, string>): string {
  return h.cookie ?? h.authorization ?? ''
}

/** Run the table for one adapter on both stores. */
export function runTable(adapter: string, start: StartServer): void {
  const stores = [
    { name: 'embedded store', make: () => createCache({ prefix: uniquePrefix() }) },
    {
      name: 'real Redis',
      make: () => createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), redisTimeout: '2s' }),
    },
  ]
  for (const store of stores) {
    describe(`${adapter}, ${store.name}: RFC 9111 table`, () => {
      const cleanup: (() => Promise<void>)[] = []
      afterEach(async () => {
        vi.restoreAllMocks()
        for (const c of cleanup.splice(0).reverse()) await c()
      })
      it('race: concurrent requests of different Vary variants coalesce on one key, none gets another variant', async () => {
        const cache = store.make()
        cleanup.push(() => cache.close())
        let calls = 0
        const headers = { vary: 'Accept-Language, Cookie' }
        const server = await start({
          cache,
          route: { ttl: '10s', staleTtl: '1h', jitter: 0, public: true },
          headers,
          respond(req) {
            calls++
            const lang = req.headers['accept-language'] ?? ''
            return { status: 200, headers, body: `n=${calls};lang=${lang};user=${userOf(req.headers)}` }
          },
        })
        cleanup.push(() => server.close())
        // 40 requests at once over 2 users x 2 languages: all arrive while the first run is in
        // flight, so most wait on the URL key and receive a variant made for someone else.
        const reqs = Array.from({ length: 40 }, (_, i) => ({
          'accept-language': i % 2 === 0 ? 'en' : 'fr',
          cookie: i % 4 < 2 ? 'session=a' : 'session=b',
        }))
        for (let round = 0; round < 2; round++) {
          const replies = await Promise.all(
            reqs.map(async (h) => ({
              h,
              text: await (await fetch(`${server.base}/t`, { headers: h })).text(),
            })),
          )
          for (const { h, text } of replies) {
            expect(text).toMatch(new RegExp(`^n=\\d+;lang=${h['accept-language']};user=${h.cookie}$`))
          }
        }
        // One run per variant is the goal; concurrent misses of one variant may each run once.
        expect(calls).toBeGreaterThanOrEqual(4)
      })

      for (const c of CASES) {
        it(c.name, async () => {
          const realNow = Date.now.bind(Date)
          const t0 = realNow()
          let offset = 0
          vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset)
          const cache = store.make()
          cleanup.push(() => cache.close())
          let calls = 0
          let failing = false
          const headers = c.headers?.(t0) ?? {}
          const server = await start({
            cache,
            route: { ttl: '10s', staleTtl: '1h', jitter: 0, ...c.route },
            headers,
            respond(req) {
              calls++
              const lang = req.headers['accept-language'] ?? ''
              return {
                status: failing ? 500 : (c.status ?? 200),
                headers,
                body: `n=${calls};lang=${lang};user=${userOf(req.headers)}`,
              }
            },
          })
          cleanup.push(() => server.close())
          for (const [i, step] of c.steps.entries()) {
            offset = (step.at ?? 0) * 1000
            if (step.fail) failing = true
            const reqHeaders = typeof step.req === 'function' ? step.req(t0) : (step.req ?? {})
            const res = await fetch(`${server.base}/t`, { headers: reqHeaders })
            const text = await res.text()
            const where = `step ${i} (${JSON.stringify(step)})`
            await waitUntil(
              `${where}: ${step.calls} handler runs`,
              () => (calls >= step.calls ? true : `${calls} runs`),
              { timeoutMs: 5_000, intervalMs: 10 },
            )
            expect({ step: i, x: res.headers.get('x-cache'), calls }).toEqual({
              step: i,
              x: step.x,
              calls: step.calls,
            })
            expect({ step: i, status: res.status }).toEqual({ step: i, status: step.status ?? 200 })
            const body = parse(text)
            if (step.from !== undefined)
              expect({ step: i, from: body?.n }).toEqual({ step: i, from: step.from })
            if (res.status === 304) expect(text).toBe('')
            // The cross-user invariant, on every step of every case.
            if (body !== undefined && body.user !== '' && c.crossUser !== true) {
              expect(body.user, `${where}: a body made for another user`).toBe(userOf(reqHeaders))
            }
          }
        })
      }
    })
  }
}
