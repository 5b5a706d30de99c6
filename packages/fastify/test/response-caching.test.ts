import type { FastifyReply } from 'fastify'
import { describe, expect, it } from 'vitest'
import { Calls, testApp } from './helpers'

describe('cached routes', () => {
  it('MISS runs the handler, then HIT serves the stored body with Age; other routes are untouched', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/products', { config: { cache: true } }, async () => ({ run: calls.hit('products') }))
    app.get('/live', async () => ({ run: calls.hit('live') }))
    const first = await app.inject('/products')
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers.age).toBe('0')
    expect(first.json()).toEqual({ run: 1 })
    const second = await app.inject('/products')
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['content-type']).toMatch(/^application\/json/)
    expect(second.headers.etag).toBe(first.headers.etag)
    expect(second.headers.age).toMatch(/^\d+$/)
    expect(second.json()).toEqual({ run: 1 })
    await app.inject('/live')
    const live = await app.inject('/live')
    expect(live.headers['x-cache']).toBeUndefined()
    expect([calls.of('products'), calls.of('live')]).toEqual([1, 2])
  })

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/doc', { config: { cache: true } }, async (_req, reply) => {
      calls.hit('doc')
      return reply.type('text/plain').send('hello')
    })
    const etag = String((await app.inject('/doc')).headers.etag)
    const r304 = await app.inject({ url: '/doc', headers: { 'if-none-match': etag } })
    expect(r304.statusCode).toBe(304)
    expect(r304.body).toBe('')
    expect(r304.headers['x-cache']).toBe('HIT')
    expect(r304.headers['content-type']).toBeUndefined()
    const other = await app.inject({ url: '/doc', headers: { 'if-none-match': '"other"' } })
    expect(other.statusCode).toBe(200)
    expect(calls.of('doc')).toBe(1)
    const leader = await app.inject({ url: '/doc?fresh', headers: { 'if-none-match': etag } })
    expect(leader.statusCode).toBe(304)
    expect(leader.headers['x-cache']).toBe('MISS')
  })

  it('bypasses POST and Authorization requests', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.route({
      method: ['GET', 'POST'],
      url: '/items',
      config: { cache: true },
      handler: async () => ({ run: calls.hit('items') }),
    })
    for (let i = 0; i < 2; i++) {
      expect((await app.inject({ method: 'POST', url: '/items' })).headers['x-cache']).toBe('BYPASS')
      expect(
        (await app.inject({ url: '/items', headers: { authorization: 'Basic x' } })).headers['x-cache'],
      ).toBe('BYPASS')
    }
    expect(calls.of('items')).toBe(4)
  })

  it.each([
    ['Set-Cookie', (reply: FastifyReply) => reply.header('set-cookie', 'sid=1').send('x')],
    ['Cache-Control: no-store', (reply: FastifyReply) => reply.header('cache-control', 'no-store').send('x')],
    ['Cache-Control: private', (reply: FastifyReply) => reply.header('cache-control', 'private').send('x')],
    ['404', (reply: FastifyReply) => reply.code(404).send({ error: 'missing' })],
    ['500', (reply: FastifyReply) => reply.code(500).send({ error: 'boom' })],
  ])('does not store a %s response', async (_label, send) => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/r', { config: { cache: true } }, async (_req, reply) => {
      calls.hit('r')
      return send(reply)
    })
    const a = await app.inject('/r')
    const b = await app.inject('/r')
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'MISS'])
    expect(calls.of('r')).toBe(2)
  })

  it('a thrown error is a 500 that is not stored', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/err', { config: { cache: true } }, async () => {
      calls.hit('err')
      throw new Error('db down')
    })
    expect((await app.inject('/err')).statusCode).toBe(500)
    expect((await app.inject('/err')).statusCode).toBe(500)
    expect(calls.of('err')).toBe(2)
  })

  it('route config: vary splits entries, ttl/tags/statuses apply per route', async () => {
    const { app, cache } = testApp()
    const calls = new Calls()
    app.get(
      '/greeting',
      { config: { cache: { vary: ['accept-language'], tags: ['greetings'] } } },
      async (req) => {
        calls.hit('greeting')
        return req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello'
      },
    )
    app.get(
      '/users/:id',
      { config: { cache: { tags: (req) => [`user:${(req.params as { id: string }).id}`] } } },
      async (req) => {
        calls.hit('user')
        return { id: (req.params as { id: string }).id }
      },
    )
    app.get('/gone', { config: { cache: { statuses: [404] } } }, async (_req, reply) => {
      calls.hit('gone')
      return reply.code(404).send('gone')
    })
    const lang = (l: string) => app.inject({ url: '/greeting', headers: { 'accept-language': l } })
    expect([(await lang('en')).body, (await lang('fr')).body]).toEqual(['hello', 'bonjour'])
    const [en, fr] = [await lang('en'), await lang('fr')]
    expect([en.body, fr.body, en.headers['x-cache'], fr.headers['x-cache']]).toEqual([
      'hello',
      'bonjour',
      'HIT',
      'HIT',
    ])
    expect(calls.of('greeting')).toBe(2)
    await cache.invalidateTags(['greetings'])
    expect((await lang('en')).headers['x-cache']).toBe('MISS')
    await app.inject('/users/1')
    await app.inject('/users/2')
    await cache.invalidateTags(['user:1'])
    expect((await app.inject('/users/1')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/users/2')).headers['x-cache']).toBe('HIT')
    expect(calls.of('user')).toBe(3)
    await app.inject('/gone')
    const gone = await app.inject('/gone')
    expect([gone.statusCode, gone.headers['x-cache'], calls.of('gone')]).toEqual([404, 'HIT', 1])
  })

  it('serves HEAD from the GET entry, and a cold HEAD fills it through a GET', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/page', { config: { cache: true } }, async (req) => {
      calls.hit(req.method)
      return `page ${req.url}`
    })
    await app.inject('/page?a=1')
    const head = await app.inject({ method: 'HEAD', url: '/page?a=1' })
    expect(head.statusCode).toBe(200)
    expect(head.headers['x-cache']).toBe('HIT')
    expect(head.headers['content-length']).toBe(String('page /page?a=1'.length))
    expect(head.body).toBe('')
    const coldHead = await app.inject({ method: 'HEAD', url: '/page?a=2' })
    expect(coldHead.headers['x-cache']).toBe('MISS')
    const get = await app.inject('/page?a=2')
    expect([get.headers['x-cache'], get.body]).toEqual(['HIT', 'page /page?a=2'])
    expect([calls.of('GET'), calls.of('HEAD')]).toEqual([2, 0])
  })

  it('streams pass through uncached', async () => {
    const { app } = testApp()
    const calls = new Calls()
    const { Readable } = await import('node:stream')
    app.get('/stream', { config: { cache: true } }, async (_req, reply) => {
      calls.hit('stream')
      return reply.type('text/plain').send(Readable.from(['a', 'b']))
    })
    expect((await app.inject('/stream')).body).toBe('ab')
    expect((await app.inject('/stream')).body).toBe('ab')
    expect(calls.of('stream')).toBe(2)
  })

  it('a spoofed refresh header is ignored and never reaches the handler', async () => {
    const { app } = testApp()
    const seen: Array<string | undefined> = []
    app.get('/s', { config: { cache: true } }, async (req) => {
      seen.push(req.headers['x-herdless-refresh'] as string | undefined)
      return 'ok'
    })
    const r = await app.inject({ url: '/s', headers: { 'x-herdless-refresh': 'guess' } })
    expect(r.headers['x-cache']).toBe('MISS')
    expect((await app.inject('/s')).headers['x-cache']).toBe('HIT')
    expect(seen).toEqual([undefined])
  })
})
