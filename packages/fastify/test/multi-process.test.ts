import { fileURLToPath } from 'node:url'
import {
  type AppProcess,
  buildPackages,
  sharedRedis,
  startAppProcess,
  uniquePrefix,
} from '@herdless/test-utils'
import { afterAll, beforeAll, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))
const apps: AppProcess[] = []

// The children run the built packages.
beforeAll(() => buildPackages('@herdless/fastify'), 180_000)
afterAll(() => Promise.all(apps.map((a) => a.stop())))

async function startApp(prefix: string): Promise<string> {
  const app = await startAppProcess(fixture, { REDIS_URL: sharedRedis().url, PREFIX: prefix })
  apps.push(app)
  return app.url
}

it('two Fastify processes on one Redis run the handler once for a cold route', async () => {
  const prefix = uniquePrefix()
  const [a, b] = await Promise.all([startApp(prefix), startApp(prefix)])
  const hits = (base: string) => Array.from({ length: 50 }, () => fetch(`${base}/slow`).then((r) => r.text()))
  const bodies = await Promise.all([...hits(a), ...hits(b)])
  expect(new Set(bodies).size).toBe(1)
  const runs = await Promise.all(
    [a, b].map(async (base) => ((await (await fetch(`${base}/runs`)).json()) as { runs: number }).runs),
  )
  expect(runs.reduce((x, y) => x + y, 0)).toBe(1)
})
