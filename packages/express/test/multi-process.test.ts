import { fileURLToPath } from 'node:url'
import {
  type AppProcess,
  buildPackages,
  sharedRedis,
  startAppProcess,
  uniquePrefix,
} from '@herdless/test-utils'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))
const apps: AppProcess[] = []

// The children run the built packages.
beforeAll(() => buildPackages('@herdless/express'), 180_000)
afterAll(() => Promise.all(apps.map((a) => a.stop())))

async function startApp(prefix: string): Promise<string> {
  const app = await startAppProcess(fixture, { REDIS_URL: sharedRedis().url, PREFIX: prefix })
  apps.push(app)
  return app.url
}

it('two app processes on one Redis run the handler once for a cold route', async () => {
  const prefix = uniquePrefix()
  const [a, b] = await Promise.all([startApp(prefix), startApp(prefix)])
  const hits = (base: string) => Array.from({ length: 50 }, () => request(base).get('/slow'))
  const responses = await Promise.all([...hits(a), ...hits(b)])
  expect(responses.every((r) => r.status === 200)).toBe(true)
  expect(new Set(responses.map((r) => r.text)).size).toBe(1)
  const runs = await Promise.all(
    [a, b].map(async (base) => (await request(base).get('/runs')).body.runs as number),
  )
  expect(runs.reduce((x, y) => x + y, 0)).toBe(1)
})
