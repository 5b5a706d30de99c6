import { cacheResponses } from '@herdless/express'
import express, { type Request, type Response } from 'express'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Calls, sleep, testCache, until } from './helpers'

// Entries go stale after ttl: the tests move Date.now past it (the engine and core/http compare
// freshness with Date.now), so nothing sleeps through a TTL.
const opts = { ttl: '1s', staleTtl: '1m', jitter: 0 } as const
const PAST_TTL = 1_150

afterEach(() => {
  vi.restoreAllMocks()
})

/** Move Date.now forward by `ms` from now on. */
function advanceClock(ms: number): void {
  const realNow = Date.now.bind(Date)
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ms)
}

function quietApp() {
  const app = express()
  app.set('env', 'test') // the default error handler stays quiet
  return app
}

// Stale-while-revalidate and stale-if-error as every adapter has them are in the shared table
// (rfc9111-table.test.ts); here what Express's in-memory refresh dispatch and error paths add.
describe('stale-while-revalidate', () => {
  it('the refresh is a GET through the whole app with the original headers', async () => {
    const cache = testCache()
    const seen: Array<{
      method: string
      lang: string | undefined
      inm: string | undefined
      ip: string | undefined
    }> = []
    const app = quietApp()
    app.use((req, _res, next) => {
      seen.push({
        method: req.method,
        lang: req.get('accept-language'),
        inm: req.get('if-none-match'),
        ip: req.ip,
      })
      next()
    })
    app.get('/t', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.send('t')
    })
    await request(app).get('/t').set('Accept-Language', 'de')
    advanceClock(PAST_TTL)
    await request(app).head('/t').set('Accept-Language', 'nl').set('If-None-Match', '"zzz"')
    await until('the refresh ran', () => seen.length === 3)
    expect(seen[2]).toMatchObject({ method: 'GET', lang: 'nl', inm: undefined })
    expect(seen[2]?.ip).toBe(seen[1]?.ip)
  })
})

describe('stale-if-error', () => {
  it.each([
    // A 500, a throw and next(err) are in the shared table (its handler reaches Express's
    // error handler through next(err), where a sync throw also lands).
    [
      'answers 503 slowly',
      (_req: Request, res: Response) => void setTimeout(() => res.status(503).send('x'), 50),
    ],
  ])('clients keep getting the stale body when the handler then %s', async (_label, fail) => {
    const cache = testCache()
    const calls = new Calls()
    let failing = false
    const app = quietApp()
    app.get('/feed', cacheResponses({ cache, ...opts }), (req, res) => {
      calls.hit('feed')
      if (failing) return fail(req, res)
      res.json({ items: [1, 2, 3] })
    })
    await request(app).get('/feed')
    failing = true
    advanceClock(PAST_TTL)
    const first = await request(app).get('/feed')
    expect(first.status).toBe(200)
    expect(first.headers['x-cache']).toBe('STALE')
    expect(first.body).toEqual({ items: [1, 2, 3] })
    // The background refresh ran the failing handler ...
    await until('the refresh ran', () => calls.of('feed') === 2)
    await sleep(50)
    // ... and clients still get the stale copy.
    for (let i = 0; i < 3; i++) {
      const r = await request(app).get('/feed')
      expect(r.status).toBe(200)
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.body).toEqual({ items: [1, 2, 3] })
    }
  })
})
