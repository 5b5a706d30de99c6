import { describe, expect, it } from 'vitest'
import { Calls, testApp } from './helpers'

// What only the Fastify plugin does: which routes it hooks, route config functions of the
// request, reply streams, its refresh marker header. The HTTP behaviours every adapter owes
// (MISS/HIT, HEAD, 304, bypass rules, route options, invalidation, stale handling,
// coalescing) are in the shared table: rfc9111-table.test.ts.
describe('cached routes', () => {
  it('routes without config.cache are untouched', async () => {
    const { app } = testApp()
    const calls = new Calls()
    app.get('/products', { config: { cache: true } }, async () => ({ run: calls.hit('products') }))
    app.get('/live', async () => ({ run: calls.hit('live') }))
    expect((await app.inject('/products')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/products')).headers['x-cache']).toBe('HIT')
    await app.inject('/live')
    const live = await app.inject('/live')
    expect(live.headers['x-cache']).toBeUndefined()
    expect([calls.of('products'), calls.of('live')]).toEqual([1, 2])
  })

  it('route config: tags computed from the request tag the entry', async () => {
    const { app, cache } = testApp()
    const calls = new Calls()
    app.get(
      '/users/:id',
      { config: { cache: { tags: (req) => [`user:${(req.params as { id: string }).id}`] } } },
      async (req) => {
        calls.hit('user')
        return { id: (req.params as { id: string }).id }
      },
    )
    await app.inject('/users/1')
    await app.inject('/users/2')
    await cache.invalidateTags(['user:1'])
    expect((await app.inject('/users/1')).headers['x-cache']).toBe('MISS')
    expect((await app.inject('/users/2')).headers['x-cache']).toBe('HIT')
    expect(calls.of('user')).toBe(3)
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
