import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cacheResponses, invalidate } from '@herdless/express'
import express5 from 'express'
import express4 from 'express4'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { Calls, type ExpressFactory, testCache } from './helpers'

const opts = { ttl: '1m', jitter: 0 } as const

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as ExpressFactory],
])('%s', (_name, express) => {
  it('MISS runs the handler, then HIT serves the stored body with Age', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/products', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.json({ run: calls.hit('products') })
    })
    const first = await request(app).get('/products')
    expect(first.status).toBe(200)
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers.age).toBe('0')
    expect(first.body).toEqual({ run: 1 })
    const second = await request(app).get('/products')
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['content-type']).toMatch(/^application\/json/)
    expect(second.headers.age).toMatch(/^\d+$/)
    expect(second.headers.etag).toBe(first.headers.etag)
    expect(second.body).toEqual({ run: 1 })
    expect(calls.of('products')).toBe(1)
  })

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/doc', cacheResponses({ cache, ...opts }), (_req, res) => {
      calls.hit('doc')
      res.type('text/plain').send('hello')
    })
    const first = await request(app).get('/doc')
    const etag = String(first.headers.etag ?? '')
    expect(etag).toBeTruthy()
    const hit304 = await request(app).get('/doc').set('If-None-Match', etag)
    expect(hit304.status).toBe(304)
    expect(hit304.text).toBe('')
    expect(hit304.headers['x-cache']).toBe('HIT')
    expect(hit304.headers.etag).toBe(etag)
    expect(hit304.headers['content-type']).toBeUndefined()
    // A weak comparison: the strong form of a weak tag matches too; another tag does not.
    const strong = await request(app)
      .get('/doc')
      .set('If-None-Match', `"x", ${etag.replace(/^W\//, '')}`)
    expect(strong.status).toBe(304)
    const other = await request(app).get('/doc').set('If-None-Match', '"nope"')
    expect(other.status).toBe(200)
    expect(other.text).toBe('hello')
    expect(calls.of('doc')).toBe(1)
  })

  it('gives the leader a 304 too when its If-None-Match matches what its handler produced', async () => {
    const cache = testCache()
    const app = express()
    app.get('/doc', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.set('ETag', '"v1"').type('text/plain').send('hello')
    })
    const res = await request(app).get('/doc').set('If-None-Match', '"v1"')
    expect(res.status).toBe(304)
    expect(res.headers['x-cache']).toBe('MISS')
  })

  it('bypasses POST, Authorization and Range requests; allowAuthorized caches authorized ones', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    const mw = cacheResponses({ cache, ...opts })
    app.post('/items', mw, (_req, res) => {
      res.json({ run: calls.hit('post') })
    })
    app.get('/items', mw, (_req, res) => {
      res.json({ run: calls.hit('get') })
    })
    app.get('/shared', cacheResponses({ cache, ...opts, allowAuthorized: true }), (_req, res) => {
      res.json({ run: calls.hit('shared') })
    })
    for (let i = 0; i < 2; i++) {
      const post = await request(app).post('/items')
      expect(post.headers['x-cache']).toBe('BYPASS')
      const auth = await request(app).get('/items').set('Authorization', 'Bearer t')
      expect(auth.headers['x-cache']).toBe('BYPASS')
      const range = await request(app).get('/items').set('Range', 'bytes=0-1')
      expect(range.headers['x-cache']).toBe('BYPASS')
    }
    expect(calls.of('post')).toBe(2)
    expect(calls.of('get')).toBe(4)
    await request(app).get('/shared').set('Authorization', 'Bearer a')
    const again = await request(app).get('/shared').set('Authorization', 'Bearer b')
    expect(again.headers['x-cache']).toBe('HIT')
    expect(calls.of('shared')).toBe(1)
  })

  it.each([
    ['Set-Cookie', (res: express5.Response) => res.cookie('session', 'abc').send('x')],
    ['Cache-Control: no-store', (res: express5.Response) => res.set('Cache-Control', 'no-store').send('x')],
    [
      'Cache-Control: private',
      (res: express5.Response) => res.set('Cache-Control', 'private, max-age=60').send('x'),
    ],
    ['Vary: *', (res: express5.Response) => res.set('Vary', '*').send('x')],
    ['404', (res: express5.Response) => res.status(404).send('missing')],
    ['500', (res: express5.Response) => res.status(500).send('boom')],
    ['201 (not in statuses)', (res: express5.Response) => res.status(201).send('made')],
  ])('does not store a %s response', async (_label, send) => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/r', cacheResponses({ cache, ...opts }), (_req, res) => {
      calls.hit('r')
      send(res)
    })
    const a = await request(app).get('/r')
    const b = await request(app).get('/r')
    expect(a.headers['x-cache']).toBe('MISS')
    expect(b.headers['x-cache']).toBe('MISS')
    expect(calls.of('r')).toBe(2)
  })

  it('stores other statuses when listed in statuses', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/gone', cacheResponses({ cache, ...opts, statuses: [200, 404] }), (_req, res) => {
      calls.hit('gone')
      res.status(404).send('missing')
    })
    await request(app).get('/gone')
    const b = await request(app).get('/gone')
    expect(b.status).toBe(404)
    expect(b.headers['x-cache']).toBe('HIT')
    expect(b.text).toBe('missing')
    expect(calls.of('gone')).toBe(1)
  })

  it('vary splits entries by the named request headers', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/greeting', cacheResponses({ cache, ...opts, vary: ['Accept-Language'] }), (req, res) => {
      calls.hit('greeting')
      res.send(req.get('accept-language') === 'fr' ? 'bonjour' : 'hello')
    })
    const en = await request(app).get('/greeting').set('Accept-Language', 'en')
    const fr = await request(app).get('/greeting').set('Accept-Language', 'fr')
    const en2 = await request(app).get('/greeting').set('Accept-Language', 'en')
    const fr2 = await request(app).get('/greeting').set('Accept-Language', 'fr')
    expect([en.text, fr.text, en2.text, fr2.text]).toEqual(['hello', 'bonjour', 'hello', 'bonjour'])
    expect([en2.headers['x-cache'], fr2.headers['x-cache']]).toEqual(['HIT', 'HIT'])
    expect(calls.of('greeting')).toBe(2)
  })

  it('serves HEAD from the GET entry, and a cold HEAD fills it for GET', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/page', cacheResponses({ cache, ...opts }), (req, res) => {
      calls.hit(`page ${req.method}`)
      res.type('text/plain').send(`page ${req.originalUrl}`)
    })
    await request(app).get('/page?a=1')
    const head = await request(app).head('/page?a=1')
    expect(head.status).toBe(200)
    expect(head.headers['x-cache']).toBe('HIT')
    expect(head.headers['content-length']).toBe(String('page /page?a=1'.length))
    expect(head.text).toBeUndefined()
    const coldHead = await request(app).head('/page?a=2')
    expect(coldHead.headers['x-cache']).toBe('MISS')
    expect(coldHead.headers['content-length']).toBe(String('page /page?a=2'.length))
    const get = await request(app).get('/page?a=2')
    expect(get.headers['x-cache']).toBe('HIT')
    expect(get.text).toBe('page /page?a=2')
    // Both entries were filled by GET runs; no HEAD ever reached the handler.
    expect(calls.of('page GET')).toBe(2)
    expect(calls.of('page HEAD')).toBe(0)
  })

  it('one entry for reordered query parameters and equivalent percent-encoding', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/search', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.json({ run: calls.hit('search') })
    })
    await request(app).get('/search?b=2&a=1&a=0')
    const same = await request(app).get('/search?a=1&a=0&b=%32')
    const differentOrderOfOneName = await request(app).get('/search?a=0&a=1&b=2')
    expect(same.headers['x-cache']).toBe('HIT')
    expect(differentOrderOfOneName.headers['x-cache']).toBe('MISS')
    expect(calls.of('search')).toBe(2)
  })

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

  it('respectRequestCacheControl: no-cache refreshes from the handler, no-store bypasses', async () => {
    const cache = testCache()
    const calls = new Calls()
    const app = express()
    app.get('/fresh', cacheResponses({ cache, ...opts, respectRequestCacheControl: true }), (_req, res) => {
      res.json({ run: calls.hit('fresh') })
    })
    app.get('/plain', cacheResponses({ cache, ...opts }), (_req, res) => {
      res.json({ run: calls.hit('plain') })
    })
    await request(app).get('/fresh')
    const refreshed = await request(app).get('/fresh').set('Cache-Control', 'no-cache')
    expect(refreshed.headers['x-cache']).toBe('MISS')
    expect(refreshed.body).toEqual({ run: 2 })
    const hit = await request(app).get('/fresh')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.body).toEqual({ run: 2 })
    const noStore = await request(app).get('/fresh').set('Cache-Control', 'no-store')
    expect(noStore.headers['x-cache']).toBe('BYPASS')
    await request(app).get('/plain')
    const ignored = await request(app).get('/plain').set('Cache-Control', 'no-cache')
    expect(ignored.headers['x-cache']).toBe('HIT')
    expect([calls.of('fresh'), calls.of('plain')]).toEqual([3, 1])
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
