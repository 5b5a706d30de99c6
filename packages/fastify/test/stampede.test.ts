import { expect, it } from 'vitest'
import { Calls, sleep, testApp } from './helpers'

it('200 concurrent requests to a cold 200 ms route run the handler once', async () => {
  const { app } = testApp()
  const calls = new Calls()
  app.get('/report', { config: { cache: true } }, async () => {
    const run = calls.hit('report')
    await sleep(200) // the slow database call
    return { run, rows: Array.from({ length: 50 }, (_, i) => i) }
  })
  const responses = await Promise.all(Array.from({ length: 200 }, () => app.inject('/report')))
  expect(calls.of('report')).toBe(1)
  expect(new Set(responses.map((r) => r.body)).size).toBe(1)
  expect(responses.every((r) => r.statusCode === 200)).toBe(true)
  expect(responses.every((r) => r.headers['x-cache'] === 'MISS' || r.headers['x-cache'] === 'HIT')).toBe(true)
})
