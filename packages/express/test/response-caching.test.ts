import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cacheResponses, invalidate } from '@herdless/express'
import express5 from 'express'
import express4 from 'express4'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { Calls, type ExpressFactory, testCache } from './helpers'

const opts = { ttl: '1m', jitter: 0 } as const

// What only Express does: capture (streams, sendFile), key/tags functions of req, req.herdless,
// app-wide use, option errors. The HTTP behaviours every adapter owes (MISS/HIT, HEAD, 304,
// bypass rules, route options, invalidation, stale handling, coalescing) are in the shared
// table: rfc9111-table.test.ts runs packages/core/test/http-table/table.ts on Express 4 and 5.

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as ExpressFactory],
])('%s', (_name, express) => {
  it('passes streamed and oversized responses through uncached, whole', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/stream', cacheResponses({ cache, ...opts }), (_req, res) => {
      calls.hit('stream')
      res.setHeader('Content-Type', 'text/plain')
      res.flushHeaders()
      res.write('a')
      setTimeout(() => res.end('b'), 5)
    })
    app.get('/big', cacheResponses({ cache, ...opts, maxBodyBytes: 1000 }), (_req, res) => {
      calls.hit('big')
      res.write('x'.repeat(600))
      res.end('y'.repeat(600))
    })
    for (let i = 0; i < 2; i++) {
      const s = await request(app).get('/stream')
      expect(s.text).toBe('ab')
      expect(s.headers['x-cache']).toBe('MISS')
      const b = await request(app).get('/big')
      expect(b.text).toBe(`${'x'.repeat(600)}${'y'.repeat(600)}`)
    }
    expect(calls.of('stream')).toBe(2)
    expect(calls.of('big')).toBe(2)
  })

  it('caches res.sendFile (piped into the response) like any other body', async () => {
    // send's default `Cache-Control: public, max-age=0` would (rightly) keep it out of the cache.
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    const file = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))
    app.get('/file', cacheResponses({ cache, ...opts }), (_req, res, next) => {
      calls.hit('file')
      res.sendFile(file, { maxAge: '1m' }, (err) => err && next(err))
    })
    const a = await request(app).get('/file')
    const b = await request(app).get('/file')
    expect(a.text).toBe(readFileSync(file, 'utf8'))
    expect(b.text).toBe(a.text)
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    expect(b.headers['last-modified']).toBe(a.headers['last-modified'])
    expect(calls.of('file')).toBe(1)
  })

  it('key(req) replaces the default key; tags(req) tags the entry', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get(
      '/users/:id',
      cacheResponses({
        cache,
        ...opts,
        key: (req) => `user:${req.params.id}`,
        tags: (req) => [`user:${req.params.id}`],
      }),
      (req, res) => {
        res.json({ id: req.params.id, run: calls.hit(`u${req.params.id}`) })
      },
    )
    await request(app).get('/users/1?utm=a')
    const other = await request(app).get('/users/1?utm=b')
    expect(other.headers['x-cache']).toBe('HIT')
    await cache.invalidateTags(['user:1'])
    const after = await request(app).get('/users/1')
    expect(after.headers['x-cache']).toBe('MISS')
    expect(after.body).toEqual({ id: '1', run: 2 })
  })

  it('invalidate() removes responses by tag and by path (every query variant)', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    const products = cacheResponses({ cache, ...opts, tags: ['products'] })
    app.get('/products', products, (req, res) => {
      res.json({ q: req.query, run: calls.hit('products') })
    })
    app.get('/about', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.json({ run: calls.hit('about') })
    })
    app.get('/products-archive', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.json({ run: calls.hit('archive') })
    })
    app.post('/products', products, async (req, res) => {
      // The middleware bypasses POST but still hands the handler its cache and invalidate().
      expect(req.herdless?.xCache).toBe('BYPASS')
      await req.herdless?.invalidate({ tags: ['products'] })
      res.status(204).end()
    })
    const warm = async () => {
      for (const url of ['/products', '/products?page=2', '/about', '/products-archive'])
        await request(app).get(url)
    }
    await warm()
    expect([calls.of('products'), calls.of('about'), calls.of('archive')]).toEqual([2, 1, 1])
    await request(app).post('/products')
    await warm()
    expect([calls.of('products'), calls.of('about'), calls.of('archive')]).toEqual([4, 1, 1])
    await invalidate(cache, { paths: ['/about'] })
    await invalidate(cache, { paths: '/products' })
    await warm()
    // The path invalidation took both /products variants and /about, not /products-archive.
    expect([calls.of('products'), calls.of('about'), calls.of('archive')]).toEqual([6, 2, 1])
  })

  it('app-wide use caches every GET, and req.herdless tells handlers what happened', async () => {
    const cache = testCache()
    const seen: Array<string | undefined> = []
    const app = express()
    app.use(cacheResponses({ cache, ...opts }))
    app.get('/a', (req, res) => {
      seen.push(req.herdless?.xCache)
      res.send(req.herdless?.key)
    })
    app.post('/a', (req, res) => {
      seen.push(req.herdless?.xCache)
      res.send('posted')
    })
    const a = await request(app).get('/a?z=1&y=2')
    expect(a.text).toBe('http:GET:/a?y=2&z=1')
    expect((await request(app).get('/a?y=2&z=1')).headers['x-cache']).toBe('HIT')
    await request(app).post('/a')
    expect(seen).toEqual(['MISS', 'BYPASS'])
  })

  it('rejects bad options with coded errors', () => {
    const cache = testCache()
    expect(() => cacheResponses({ cache, ttl: 'soon' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
    expect(() => cacheResponses({ cache, statuses: [99] })).toThrow(/statuses/)
    expect(() => cacheResponses({ cache, headers: ['set-cookie'] })).toThrow(/Set-Cookie/)
    expect(() => cacheResponses({ cache, vary: ['bad header'] })).toThrow(/vary/)
    expect(() => cacheResponses({ cache: {} as never })).toThrow(/createCache/)
    expect(() => cacheResponses({ cache, ttlx: 1 } as never)).toThrow(/ttlx/)
  })
})
