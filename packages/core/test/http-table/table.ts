/**
 * One table of RFC 9111 / RFC 5861 header combinations and of the behaviours every adapter
 * owes (docs/adapters.md: MISS then HIT, HEAD gets no run, conditional requests, bypass rules,
 * route options, invalidation, stale-while-revalidate and stale-if-error, coalescing), run by
 * every web adapter (Express 4 and 5, Fastify, Nest on both platforms, Hono) against the
 * embedded store and real Redis. An adapter supplies `start`: an app whose route `/t` answers
 * GET (and so HEAD) and POST through the adapter, and whose handler awaits `respond`.
 *
 * The clock is moved with a Date.now offset (`at`, seconds from the case's start): freshness
 * is compared with Date.now by the engine and by core/http, so no test sleeps through a TTL.
 * Every step also checks the invariants: a body produced for one user (Cookie or Authorization)
 * never reaches a request of another user unless the case's route is public; no handler run
 * sees a HEAD (core fills HEAD misses through a GET) or a conditional header (core answers
 * conditional requests itself, docs/adapters.md rules 4 and 5).
 */
import type { Server } from 'node:http'
import type { Cache, RouteCacheOptions } from '@herdless/core'
import { createCache, invalidateResponses } from '@herdless/core'
import { sharedRedis, sleep, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

export interface TableRequest {
  /** The method the handler sees (GET for a refresh run started by a HEAD). */
  method: string
  headers: Record<string, string>
}

export interface TableResponse {
  status: number
  headers: Record<string, string>
  body: string
}

export interface TableServer {
  base: string
  /** The node:http server, so the table can count arriving requests (coalescing cases). */
  http: Server
  close(): Promise<void>
}

export interface StartOptions {
  cache: Cache
  route: RouteCacheOptions
  /** The response headers of every handler run of this case (static per case). */
  headers: Record<string, string>
  /**
   * Called once per handler run, for GET and POST on `/t`; the handler awaits it. It rejects
   * when the case makes the handler throw: let the framework handle that as it handles any
   * handler error (a 500).
   */
  respond(req: TableRequest): Promise<TableResponse>
}

export type StartServer = (o: StartOptions) => Promise<TableServer>

type X = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

interface Step {
  /** Seconds after the case began (clock offset). */
  at?: number
  method?: 'HEAD' | 'POST'
  /** Appended to `/t`, e.g. '?b=2&a=1'. */
  query?: string
  req?: Record<string, string> | ((t0: number) => Record<string, string>)
  /** Runs before the request (invalidation), at the previous step's time. */
  before?: (cache: Cache) => Promise<unknown>
  /** The handler fails from this step on: answers 500 (true) or throws ('throw'). */
  fail?: true | 'throw'
  /** Send this many identical requests at once; every reply is checked. */
  concurrent?: number
  /** X-Cache: one value, any of several (concurrent steps), or null for no header. */
  x: X | X[] | null
  /** Handler runs so far (waited for: a background refresh finishes after the response). */
  calls: number
  status?: number
  /** The handler run whose body this response carries (for HEAD: whose length Content-Length gives). */
  from?: number
  /** Response headers present and equal to the first step's. */
  same?: string[]
  /** Response headers that must not be sent. */
  absent?: string[]
  /** An Age header with whole seconds. */
  age?: true
  /** Request headers the latest handler run saw (a refresh run: what it was given). */
  lastRun?: Record<string, string>
}

interface Case {
  name: string
  route?: RouteCacheOptions
  /** Response headers; t0 is the case's start (ms). */
  headers?: (t0: number) => Record<string, string>
  status?: number
  /** The route is configured public and the response does not vary: users share one body. */
  crossUser?: true
  /** Every handler run takes this long (ms, real time): runs overlap the requests after them. */
  delayMs?: number
  /** The first handler run waits until this many requests reached the server (then 75 ms more). */
  gate?: number
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

  // What every adapter owes beyond the header table (docs/adapters.md), once for all of them.
  {
    name: 'MISS runs the handler, then HIT serves the stored body, status, ETag, content type and stored headers with an Age',
    headers: () => ({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=60',
    }),
    steps: [
      // A client-sent refresh marker header is not believed: the request is looked up.
      { req: { 'x-herdless-refresh': 'guess' }, x: 'MISS', calls: 1, from: 1, age: true },
      { x: 'HIT', calls: 1, from: 1, age: true, same: ['etag', 'content-type', 'cache-control'] },
      { req: { 'x-herdless-refresh': 'guess' }, x: 'HIT', calls: 1, from: 1, same: ['etag', 'content-type'] },
      // The request's Cache-Control is ignored by default (respectRequestCacheControl).
      { req: { 'cache-control': 'no-cache' }, x: 'HIT', calls: 1, from: 1 },
      { req: { pragma: 'no-cache' }, x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'HEAD is answered from the GET entry, with no body and no run',
    steps: [
      { x: 'MISS', calls: 1, from: 1 },
      { method: 'HEAD', x: 'HIT', calls: 1 },
      { x: 'HIT', calls: 1, from: 1, same: ['content-type', 'etag'] },
    ],
  },
  {
    name: "a HEAD hit carries the GET body's Content-Length",
    steps: [
      { x: 'MISS', calls: 1, from: 1 },
      { method: 'HEAD', x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'a cold HEAD is filled by a GET run, never a HEAD run',
    steps: [
      { method: 'HEAD', x: 'MISS', calls: 1 },
      { x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'If-None-Match: a weak comparison answers 304 with no body; another tag gets the body',
    headers: () => ({ etag: 'W/"v1"' }),
    steps: [
      { x: 'MISS', calls: 1 },
      {
        req: { 'if-none-match': 'W/"v1"' },
        x: 'HIT',
        calls: 1,
        status: 304,
        same: ['etag'],
        absent: ['content-type'],
      },
      { req: { 'if-none-match': '"x", "v1"' }, x: 'HIT', calls: 1, status: 304 },
      { req: { 'if-none-match': '"nope"' }, x: 'HIT', calls: 1, status: 200, from: 1 },
    ],
  },
  {
    name: 'the leader gets a 304 too when its If-None-Match matches what its handler produced',
    headers: () => ({ etag: '"v1"' }),
    steps: [
      { req: { 'if-none-match': '"v1"' }, x: 'MISS', calls: 1, status: 304 },
      { x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'POST and Range requests bypass the cache and leave the entry alone',
    steps: [
      { method: 'POST', x: 'BYPASS', calls: 1, from: 1 },
      { method: 'POST', x: 'BYPASS', calls: 2, from: 2 },
      { req: { range: 'bytes=0-1' }, x: 'BYPASS', calls: 3 },
      { x: 'MISS', calls: 4, from: 4 },
      { method: 'POST', x: 'BYPASS', calls: 5, from: 5 },
      { x: 'HIT', calls: 5, from: 4 },
    ],
  },
  {
    name: 'allowAuthorized: requests with Authorization are cached (shared between credentials, configured so)',
    route: { allowAuthorized: true },
    crossUser: true,
    steps: [
      { req: { authorization: 'Bearer a' }, x: 'MISS', calls: 1 },
      { req: { authorization: 'Bearer b' }, x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'statuses: [200, 404] stores a 404',
    route: { statuses: [200, 404] },
    status: 404,
    steps: [
      { x: 'MISS', calls: 1, status: 404 },
      { x: 'HIT', calls: 1, status: 404, from: 1 },
    ],
  },
  {
    name: 'a 201 (not in statuses) is not stored',
    status: 201,
    steps: [
      { x: 'MISS', calls: 1, status: 201 },
      { x: 'MISS', calls: 2, status: 201, from: 2 },
    ],
  },
  {
    name: 'route vary: [accept-language] splits the entry without a response Vary',
    route: { vary: ['accept-language'] },
    steps: [
      { req: en, x: 'MISS', calls: 1 },
      { req: fr, x: 'MISS', calls: 2, from: 2 },
      { req: en, x: 'HIT', calls: 2, from: 1 },
      { req: fr, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'one entry for reordered query parameters and equivalent percent-encoding',
    steps: [
      { query: '?b=2&a=1&a=0', x: 'MISS', calls: 1 },
      { query: '?a=1&a=0&b=%32', x: 'HIT', calls: 1, from: 1 },
      { query: '?a=0&a=1&b=2', x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'maxBodyBytes: a larger body passes through whole, uncached',
    route: { maxBodyBytes: 8 },
    steps: [
      { x: 'MISS', calls: 1, from: 1 },
      { x: 'MISS', calls: 2, from: 2 },
    ],
  },
  {
    name: 'respectRequestCacheControl: no-cache refreshes from the handler, no-store bypasses',
    route: { respectRequestCacheControl: true },
    steps: [
      { x: 'MISS', calls: 1 },
      { req: { 'cache-control': 'no-cache' }, x: 'MISS', calls: 2, from: 2 },
      { x: 'HIT', calls: 2, from: 2 },
      { req: { 'cache-control': 'no-store' }, x: 'BYPASS', calls: 3, from: 3 },
      { x: 'HIT', calls: 3, from: 2 },
    ],
  },
  {
    name: 'invalidation by route tag and by path (every query variant)',
    route: { tags: ['t-tag'] },
    steps: [
      { x: 'MISS', calls: 1 },
      { query: '?page=2', x: 'MISS', calls: 2 },
      { at: 1, before: (cache) => cache.invalidateTags(['t-tag']), x: 'MISS', calls: 3, from: 3 },
      { at: 1, query: '?page=2', x: 'MISS', calls: 4, from: 4 },
      { at: 1, x: 'HIT', calls: 4, from: 3 },
      { at: 2, before: (cache) => invalidateResponses(cache, { paths: '/t' }), x: 'MISS', calls: 5, from: 5 },
      { at: 2, query: '?page=2', x: 'MISS', calls: 6, from: 6 },
    ],
  },
  {
    name: 'stale-while-revalidate: 10 concurrent stale requests get the stale body, one refresh runs (as a refresh), then HIT',
    delayMs: 100,
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 11, concurrent: 10, x: 'STALE', calls: 2, from: 1, age: true },
      { at: 12, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'a refresh started by a HEAD is a GET with the request headers, less validators',
    steps: [
      { req: { 'accept-language': 'de' }, x: 'MISS', calls: 1 },
      {
        at: 11,
        method: 'HEAD',
        req: { 'accept-language': 'nl', 'if-none-match': '"zzz"' },
        x: 'STALE',
        calls: 2,
        lastRun: { 'accept-language': 'nl' },
      },
      { at: 12, x: 'HIT', calls: 2, from: 2 },
    ],
  },
  {
    name: 'stale-if-error: a failing refresh keeps the stale body served, and is not retried at once',
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 11, fail: true, x: 'STALE', calls: 2, from: 1 },
      // The failed refresh holds off the next one (the cache's failSafeBackoff, 5 s).
      { at: 12, x: 'STALE', calls: 2, from: 1, status: 200 },
      { at: 13, x: 'STALE', calls: 2, from: 1, status: 200 },
    ],
  },
  {
    name: 'stale-if-error: a handler that throws is answered with the stale body',
    steps: [
      { x: 'MISS', calls: 1 },
      { at: 11, fail: 'throw', x: 'STALE', calls: 2, from: 1 },
      { at: 12, x: 'STALE', calls: 2, from: 1, status: 200 },
    ],
  },
  {
    name: 'stale-if-error: the request whose own run fails after invalidateTags gets the stale copy, with its stored headers',
    route: { tags: ['t-tag'] },
    headers: () => ({ 'content-type': 'application/json' }),
    steps: [
      { x: 'MISS', calls: 1 },
      {
        at: 1,
        before: (cache) => cache.invalidateTags(['t-tag']),
        fail: true,
        x: 'STALE',
        calls: 2,
        from: 1,
        same: ['content-type'],
      },
    ],
  },
  {
    name: 'without a stale copy a failure passes through, uncached (500 or thrown)',
    steps: [
      { fail: true, x: 'MISS', calls: 1, status: 500 },
      { x: 'MISS', calls: 2, status: 500 },
      { fail: 'throw', x: 'MISS', calls: 3, status: 500 },
      { x: 'MISS', calls: 4, status: 500 },
    ],
  },
  {
    name: 'stampede: 50 concurrent requests to a cold slow route run the handler once',
    delayMs: 100,
    steps: [
      { concurrent: 50, x: ['MISS', 'HIT'], calls: 1, from: 1, same: ['etag'] },
      { x: 'HIT', calls: 1, from: 1 },
    ],
  },
  {
    name: 'a 404 is shared with the requests that waited for it, but not stored',
    status: 404,
    gate: 20,
    steps: [
      { concurrent: 20, x: 'MISS', calls: 1, status: 404, from: 1 },
      { x: 'MISS', calls: 2, status: 404, from: 2 },
    ],
  },
  {
    name: 'a Set-Cookie response is never shared: every waiting request runs its own handler',
    headers: () => ({ 'set-cookie': 'session=new' }),
    gate: 5,
    steps: [{ concurrent: 5, x: 'MISS', calls: 5 }],
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

/**
 * Cases an adapter is known to get wrong, by case name, with the reason. They run as
 * `it.fails`: the run stays green while the adapter deviates and turns red the day it is fixed
 * (then delete the entry). Never a way to hide a regression: each entry is an open bug.
 */
export type KnownDeviations = Readonly<Record<string, string>>

/** Run the table for one adapter on both stores. */
export function runTable(adapter: string, start: StartServer, known: KnownDeviations = {}): void {
  for (const name of Object.keys(known)) {
    if (!CASES.some((c) => c.name === name)) throw new Error(`runTable(${adapter}): no case named "${name}"`)
  }
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
          async respond(req) {
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

      it('a cache passed in stays open when the app closes', async () => {
        const cache = store.make()
        cleanup.push(() => cache.close())
        const server = await start({
          cache,
          route: { ttl: '10s', jitter: 0 },
          headers: {},
          respond: async () => ({ status: 200, headers: {}, body: 'x' }),
        })
        const res = await fetch(`${server.base}/t`)
        expect([res.headers.get('x-cache'), await res.text()]).toEqual(['MISS', 'x'])
        await server.close()
        await expect(cache.getOrSet('still-open', () => 1)).resolves.toBe(1)
      })

      for (const c of CASES) {
        const deviation = known[c.name]
        const test = deviation === undefined ? it : it.fails
        test(deviation === undefined ? c.name : `${c.name} [known deviation: ${deviation}]`, async () => {
          const realNow = Date.now.bind(Date)
          const t0 = realNow()
          let offset = 0
          vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset)
          const cache = store.make()
          cleanup.push(() => cache.close())
          const runs: TableRequest[] = []
          const bodies: string[] = []
          let failing: Step['fail']
          const headers = c.headers?.(t0) ?? {}
          let arrived = 0
          let finished = 0
          let opened: () => void = () => {}
          const gate = new Promise<void>((resolve) => {
            opened = resolve
          })
          const server = await start({
            cache,
            route: { ttl: '10s', staleTtl: '1h', jitter: 0, ...c.route },
            headers,
            async respond(req) {
              // A copy: adapters restore the conditional headers they hid once the run is over.
              runs.push({ method: req.method, headers: { ...req.headers } })
              const n = runs.length
              const lang = req.headers['accept-language'] ?? ''
              const body = `n=${n};lang=${lang};user=${userOf(req.headers)}`
              bodies.push(body)
              // Every request of the step overlaps this run: then a moment for their cache reads.
              if (c.gate !== undefined && n === 1)
                await Promise.race([gate, sleep(5_000)]).then(() => sleep(75))
              if (c.delayMs !== undefined) await sleep(c.delayMs)
              try {
                if (failing === 'throw') throw new Error('the handler failed')
                return { status: failing ? 500 : (c.status ?? 200), headers, body }
              } finally {
                finished++
              }
            },
          })
          cleanup.push(() => server.close())
          server.http.on('request', () => {
            arrived++
            if (c.gate !== undefined && arrived >= c.gate) opened()
          })
          let first: Headers | undefined
          for (const [i, step] of c.steps.entries()) {
            // Before the clock moves: an entry stored in the same millisecond as a tag
            // invalidation counts as invalidated (coherence.ts compares with >=).
            await step.before?.(cache)
            offset = (step.at ?? 0) * 1000
            if (step.fail) failing = step.fail
            const reqHeaders = typeof step.req === 'function' ? step.req(t0) : (step.req ?? {})
            const send = async () => {
              const res = await fetch(`${server.base}/t${step.query ?? ''}`, {
                method: step.method ?? 'GET',
                headers: reqHeaders,
              })
              return { res, text: await res.text() }
            }
            const replies = await Promise.all(Array.from({ length: step.concurrent ?? 1 }, send))
            const where = `step ${i} (${JSON.stringify(step)})`
            await waitUntil(
              `${where}: ${step.calls} handler runs`,
              // Finished, not started: a refresh that takes delayMs must land before the next step.
              () => (finished >= step.calls ? true : `${finished} runs finished`),
              { timeoutMs: 5_000, intervalMs: 10 },
            )
            first ??= replies[0]?.res.headers
            for (const { res, text } of replies) {
              const x = res.headers.get('x-cache')
              const xOk = Array.isArray(step.x) ? step.x.includes(x as X) : x === step.x
              expect({ step: i, x: xOk ? step.x : x, calls: runs.length }).toEqual({
                step: i,
                x: step.x,
                calls: step.calls,
              })
              expect({ step: i, status: res.status }).toEqual({ step: i, status: step.status ?? 200 })
              const body = parse(text)
              if (step.method === 'HEAD') {
                expect(text, `${where}: a HEAD answer has no body`).toBe('')
                if (step.from !== undefined)
                  expect({ step: i, length: res.headers.get('content-length') }).toEqual({
                    step: i,
                    length: String(bodies[step.from - 1]?.length),
                  })
              } else if (step.from !== undefined)
                expect({ step: i, from: body?.n }).toEqual({ step: i, from: step.from })
              if (res.status === 304) expect(text).toBe('')
              for (const name of step.absent ?? [])
                expect(res.headers.get(name), `${where}: ${name}`).toBeNull()
              if (step.age) expect(res.headers.get('age'), `${where}: Age`).toMatch(/^\d+$/)
              for (const name of step.same ?? []) {
                expect(res.headers.get(name), `${where}: ${name}`).not.toBeNull()
                expect(res.headers.get(name), `${where}: ${name}`).toBe(first?.get(name))
              }
              // The cross-user invariant, on every step of every case.
              if (body !== undefined && body.user !== '' && c.crossUser !== true) {
                expect(body.user, `${where}: a body made for another user`).toBe(userOf(reqHeaders))
              }
            }
            if (step.lastRun !== undefined)
              expect(runs.at(-1)?.headers, `${where}: the latest run`).toMatchObject(step.lastRun)
            // No handler run sees a HEAD or a conditional header.
            for (const run of runs) {
              expect(run.method, `${where}: a handler run`).not.toBe('HEAD')
              expect(
                run.headers['if-none-match'],
                `${where}: If-None-Match reached the handler`,
              ).toBeUndefined()
              expect(
                run.headers['if-modified-since'],
                `${where}: If-Modified-Since reached the handler`,
              ).toBeUndefined()
            }
          }
        })
      }
    })
  }
}
