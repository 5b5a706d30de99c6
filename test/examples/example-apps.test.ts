import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { buildPackages, sharedRedis } from '@herdless/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Each example app started the way its README says (`pnpm --filter <app> serve`, which is `start`
 * minus the turbo build done once in beforeAll), then: MISS, HIT, and a clean exit on Ctrl-C (SIGINT
 * to the whole process group, as a terminal sends it: pnpm forwards it a second time).
 */
const root = fileURLToPath(new URL('../../', import.meta.url))

interface RunningApp {
  child: ChildProcess
  url: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const started: RunningApp[] = []

function startApp(name: string, env: Record<string, string>): Promise<RunningApp> {
  // detached: its own process group, so the test can deliver Ctrl-C the way a terminal does.
  const child = spawn('pnpm', ['--filter', name, 'serve'], {
    cwd: root,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no URL within 60 s:\n${out}`)), 60_000)
    const onData = (): void => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      const app = { child, url: `http://127.0.0.1:${m[1]}`, output: () => out, exited }
      started.push(app)
      resolve(app)
    }
    child.stdout?.on('data', onData)
    void exited.then(({ code }) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before printing its URL:\n${out}`))
    })
  })
}

/** Ctrl-C: SIGINT to the process group (pnpm, its shell and the app), then wait for pnpm. */
async function ctrlC(app: RunningApp): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (app.child.pid !== undefined) process.kill(-app.child.pid, 'SIGINT')
  return app.exited
}

async function xCache(url: string): Promise<string | null> {
  const res = await fetch(url)
  await res.arrayBuffer()
  expect(res.status).toBe(200)
  return res.headers.get('x-cache')
}

beforeAll(() => {
  // `start` runs this same turbo build (cached when `pnpm test` already built everything).
  buildPackages('express-app', 'fastify-app', 'nestjs-app')
}, 180_000)

afterAll(() => {
  for (const app of started) {
    if (app.child.exitCode === null && app.child.signalCode === null && app.child.pid !== undefined) {
      try {
        process.kill(-app.child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
})

const cases = [
  { name: 'express-app', path: '/products?category=books', redis: false },
  { name: 'express-app', path: '/products?category=music', redis: true },
  { name: 'fastify-app', path: '/products?category=books', redis: false },
  { name: 'nestjs-app', path: '/products/2', redis: false },
]

describe('example apps, as their READMEs start them', () => {
  for (const { name, path, redis } of cases) {
    it(`${name} (${redis ? 'REDIS_URL' : 'embedded store'}): MISS, then HIT, then exit 0 on Ctrl-C`, async () => {
      const app = await startApp(name, redis ? { REDIS_URL: sharedRedis().url } : {})
      expect(await xCache(`${app.url}${path}`)).toBe('MISS')
      expect(await xCache(`${app.url}${path}`)).toBe('HIT')
      const { code, signal } = await ctrlC(app)
      expect({ code, signal, pnpmError: /ERR_PNPM/.test(app.output()) }).toEqual({
        code: 0,
        signal: null,
        pnpmError: false,
      })
    }, 90_000)
  }
})
