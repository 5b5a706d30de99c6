import { cacheResponses } from '@herdless/express'
import express from 'express'
import request from 'supertest'
import { expect, it } from 'vitest'
import { Calls, listen, sleep, testCache } from './helpers'

it('200 concurrent requests to a cold 200 ms route run the handler once', async () => {
  const cache = testCache()
  const calls = new Calls()
  const app = express()
  app.get('/report', cacheResponses({ cache, ttl: '1m' }), async (_req, res) => {
    const run = calls.hit('report')
    await sleep(200) // the slow database call
    res.json({ run, rows: Array.from({ length: 50 }, (_, i) => i) })
  })
  const base = await listen(app)
  const responses = await Promise.all(Array.from({ length: 200 }, () => request(base).get('/report')))
  expect(calls.of('report')).toBe(1)
  const bodies = new Set(responses.map((r) => r.text))
  expect(bodies.size).toBe(1)
  expect(responses.every((r) => r.status === 200)).toBe(true)
  const statuses = responses.map((r) => r.headers['x-cache'])
  // One request ran the handler (MISS); the other 199 waited for it (MISS) or came late (HIT).
  expect(statuses.every((s) => s === 'MISS' || s === 'HIT')).toBe(true)
  expect(new Set(responses.map((r) => r.headers.etag)).size).toBe(1)
})

/** Holds the leader until `n` requests reached the server, so all of them overlap its run. */
function gate(n: number) {
  let arrived = 0
  let open: () => void = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return {
    count: (_req: express.Request, _res: express.Response, next: express.NextFunction) => {
      arrived++
      if (arrived >= n) open()
      next()
    },
    // Then a moment for the last arrivals' cache reads to join the leader's flight.
    wait: () => Promise.race([opened, sleep(5_000)]).then(() => sleep(150)),
  }
}

it('a 404 is shared with the requests that waited for it, but not stored', async () => {
  const cache = testCache()
  const calls = new Calls()
  const g = gate(20)
  const app = express()
  app.get('/missing', g.count, cacheResponses({ cache, ttl: '1m' }), async (_req, res) => {
    calls.hit('missing')
    await g.wait()
    res.status(404).json({ error: 'not found' })
  })
  const base = await listen(app)
  const responses = await Promise.all(Array.from({ length: 20 }, () => request(base).get('/missing')))
  expect(responses.every((r) => r.status === 404 && r.body.error === 'not found')).toBe(true)
  expect(calls.of('missing')).toBe(1)
  await request(base).get('/missing')
  expect(calls.of('missing')).toBe(2)
})

it('a Set-Cookie response is never shared: every waiting request runs its own handler', async () => {
  const cache = testCache()
  const calls = new Calls()
  const g = gate(5)
  const app = express()
  app.get('/login', g.count, cacheResponses({ cache, ttl: '1m' }), async (_req, res) => {
    const n = calls.hit('login')
    await g.wait()
    res.cookie('session', `s${n}`).send(`hello ${n}`)
  })
  const base = await listen(app)
  const responses = await Promise.all(Array.from({ length: 5 }, () => request(base).get('/login')))
  expect(calls.of('login')).toBe(5)
  const cookies = responses.map((r) => String(r.headers['set-cookie']))
  expect(new Set(cookies).size).toBe(5)
  for (const r of responses) expect(String(r.headers['set-cookie'])).toContain(`session=s${r.text.slice(6)}`)
})
