import { cacheResponses } from '@herdless/express'
import express, { type NextFunction, type Request, type Response } from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { Calls, sleep, testCache, until } from './helpers'

// Entries go stale after ttl; the tests sleep past it (the assertions are on counts and headers).
const opts = { ttl: '1s', staleTtl: '1m', jitter: 0 } as const
const PAST_TTL = 1_150

function quietApp() {
  const app = express()
  app.set('env', 'test') // the default error handler stays quiet
  return app
}

describe('stale-while-revalidate', () => {
  it('serves the stale body at once while one refresh runs the handler, then the new body', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = quietApp()
    app.get('/news', cacheResponses({ cache, ...opts }), async (_req, res) => {
      const run = calls.hit('news')
      await sleep(100)
      res.json({ run })
    })
    expect((await request(app).get('/news')).body).toEqual({ run: 1 })
    await sleep(PAST_TTL)
    const stale = await Promise.all(Array.from({ length: 10 }, () => request(app).get('/news')))
    for (const r of stale) {
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.body).toEqual({ run: 1 })
      expect(Number(r.headers.age)).toBeGreaterThanOrEqual(1)
    }
    await until(
      'the refresh landed',
      async () => (await request(app).get('/news')).headers['x-cache'] === 'HIT',
    )
    const fresh = await request(app).get('/news')
    expect(fresh.headers['x-cache']).toBe('HIT')
    expect(fresh.body).toEqual({ run: 2 })
    // Ten stale requests, one refresh.
    expect(calls.of('news')).toBe(2)
  })

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
    await sleep(PAST_TTL)
    await request(app).head('/t').set('Accept-Language', 'nl').set('If-None-Match', '"zzz"')
    await until('the refresh ran', () => seen.length === 3)
    expect(seen[2]).toMatchObject({ method: 'GET', lang: 'nl', inm: undefined })
    expect(seen[2]?.ip).toBe(seen[1]?.ip)
  })
})

describe('stale-if-error', () => {
  it.each([
    ['answers 500', (_req: Request, res: Response) => void res.status(500).send('db down')],
    [
      'throws',
      (_req: Request, _res: Response) => {
        throw new Error('db down')
      },
    ],
    [
      'passes an error to next()',
      (_req: Request, _res: Response, next: NextFunction) => next(new Error('db down')),
    ],
    [
      'answers 503 slowly',
      (_req: Request, res: Response) => void setTimeout(() => res.status(503).send('x'), 50),
    ],
  ])('clients keep getting the stale body when the handler then %s', async (_label, fail) => {
    const cache = testCache()
    const calls = new Calls()
    let failing = false
    const app = quietApp()
    app.get('/feed', cacheResponses({ cache, ...opts }), (req, res, next) => {
      calls.hit('feed')
      if (failing) return fail(req, res, next)
      res.json({ items: [1, 2, 3] })
    })
    await request(app).get('/feed')
    failing = true
    await sleep(PAST_TTL)
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

  it('a request whose own handler run fails (after invalidateTags) gets the stale copy', async () => {
    const cache = testCache()
    const calls = new Calls()
    let failing = false
    const app = quietApp()
    app.get('/prices', cacheResponses({ cache, ...opts, ttl: '1m', tags: ['prices'] }), (_req, res) => {
      calls.hit('prices')
      if (failing) {
        res.set('Content-Type', 'text/html').set('X-Debug', 'boom').status(500).send('<h1>down</h1>')
        return
      }
      res.json({ eur: 10 })
    })
    await request(app).get('/prices')
    await cache.invalidateTags(['prices'])
    failing = true
    const r = await request(app).get('/prices')
    expect(calls.of('prices')).toBe(2)
    expect(r.status).toBe(200)
    expect(r.headers['x-cache']).toBe('STALE')
    expect(r.headers['content-type']).toMatch(/^application\/json/)
    expect(r.body).toEqual({ eur: 10 })
  })

  it('without a stale copy the 500 passes through, uncached', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = quietApp()
    app.get('/x', cacheResponses({ cache, ...opts }), (_req, res) => {
      calls.hit('x')
      res.status(500).send('down')
    })
    const a = await request(app).get('/x')
    const b = await request(app).get('/x')
    expect([a.status, b.status]).toEqual([500, 500])
    expect(calls.of('x')).toBe(2)
  })
})
