import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url))
const children: ChildProcess[] = []

beforeAll(() => {
  // The children run the built packages: build them (a turbo cache hit when pnpm test already did).
  execFileSync(
    'pnpm',
    ['exec', 'turbo', 'run', 'build', '--filter=@herdless/express', '--output-logs=errors-only'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  )
}, 180_000)

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve()
          c.once('exit', () => resolve())
          c.kill('SIGTERM')
          setTimeout(() => c.kill('SIGKILL'), 5_000).unref()
        }),
    ),
  )
})

function startApp(prefix: string): Promise<string> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, REDIS_URL: sharedRedis().url, PREFIX: prefix },
    // stdin stays open while this test process lives: the app exits when it closes.
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /LISTENING (\d+)/.exec(out)
      if (m) resolve(`http://127.0.0.1:${m[1]}`)
    })
    child.once('exit', (code) => reject(new Error(`app exited with ${code} before listening`)))
  })
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
