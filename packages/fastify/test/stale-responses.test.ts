import { describe, expect, it } from 'vitest'
import { Calls, sleep, testApp, until } from './helpers'

const PAST_TTL = 1_150

describe('stale responses', () => {
  it('serves the stale body at once while one refresh runs the handler, then the new body', async () => {
    const { app } = testApp({ ttl: '1s', staleTtl: '1m' })
    const calls = new Calls()
    app.get('/news', { config: { cache: true } }, async () => {
      const run = calls.hit('news')
      await sleep(100)
      return { run }
    })
    expect((await app.inject('/news')).json()).toEqual({ run: 1 })
    await sleep(PAST_TTL)
    const stale = await Promise.all(Array.from({ length: 10 }, () => app.inject('/news')))
    for (const r of stale) {
      expect(r.headers['x-cache']).toBe('STALE')
      expect(r.json()).toEqual({ run: 1 })
    }
    await until('the refresh landed', async () => (await app.inject('/news')).headers['x-cache'] === 'HIT')
    expect((await app.inject('/news')).json()).toEqual({ run: 2 })
    expect(calls.of('news')).toBe(2)
  })

  it('stale-if-error: clients keep getting the stale body once the handler fails', async () => {
    const { app } = testApp({ ttl: '1s', staleTtl: '1m' })
    const calls = new Calls()
    let failing = false
    app.get('/feed', { config: { cache: true } }, async () => {
      calls.hit('feed')
      if (failing) throw new Error('db down')
      return { items: [1, 2, 3] }
    })
    await app.inject('/feed')
    failing = true
    await sleep(PAST_TTL)
    const first = await app.inject('/feed')
    expect([first.statusCode, first.headers['x-cache']]).toEqual([200, 'STALE'])
    await until('the refresh ran', () => calls.of('feed') === 2)
    await sleep(50)
    for (let i = 0; i < 3; i++) {
      const r = await app.inject('/feed')
      expect([r.statusCode, r.headers['x-cache']]).toEqual([200, 'STALE'])
      expect(r.json()).toEqual({ items: [1, 2, 3] })
    }
  })

  it('stale-if-error for the request whose own handler run fails (after invalidateTags)', async () => {
    const { app, cache } = testApp({ ttl: '1m' })
    const calls = new Calls()
    let failing = false
    app.get('/prices', { config: { cache: { tags: ['prices'] } } }, async (_req, reply) => {
      calls.hit('prices')
      if (failing) return reply.code(502).type('text/html').send('<h1>bad gateway</h1>')
      return { eur: 10 }
    })
    await app.inject('/prices')
    await cache.invalidateTags(['prices'])
    failing = true
    const r = await app.inject('/prices')
    expect(calls.of('prices')).toBe(2)
    expect([r.statusCode, r.headers['x-cache']]).toEqual([200, 'STALE'])
    expect(r.headers['content-type']).toMatch(/^application\/json/)
    expect(r.json()).toEqual({ eur: 10 })
  })
})
