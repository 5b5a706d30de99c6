import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitUntil } from '@herdless/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { processExists } from './helpers'

interface OrphanInfo {
  redisPid: number
  dir: string
  workerPid: number
}

const fixtureDir = fileURLToPath(new URL('./fixtures/orphan/', import.meta.url))
const vitestBin = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs')
const spawned: ChildProcess[] = []
const pids: number[] = []
const dirs: string[] = []

/** Run the fixture in a nested vitest and wait until its test holds a redis-server. */
async function runFixture(): Promise<{ vitest: ChildProcess; info: OrphanInfo }> {
  const scratch = mkdtempSync(join(tmpdir(), 'herdless-orphan-test-'))
  dirs.push(scratch)
  const infoFile = join(scratch, 'info.json')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')))
  const vitest = spawn(process.execPath, [vitestBin, 'run', '--config', 'vitest.config.ts'], {
    cwd: fixtureDir,
    env: { ...env, HERDLESS_ORPHAN_INFO: infoFile },
    stdio: 'ignore',
  })
  spawned.push(vitest)
  await waitUntil('the fixture to start redis', () => existsSync(infoFile) || 'no info file yet', {
    timeoutMs: 30_000,
  })
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as OrphanInfo
  pids.push(info.workerPid, info.redisPid)
  dirs.push(info.dir)
  return { vitest, info }
}

afterEach(() => {
  for (const child of spawned.splice(0)) child.kill('SIGKILL')
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone, as it should be
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

// setpriv --pdeathsig is Linux-only; elsewhere only the JS exit handlers apply.
describe.skipIf(process.platform !== 'linux')('no orphan redis-server when vitest dies abruptly', () => {
  it('SIGKILL of the vitest process: the worker kills its servers and removes their folders', async () => {
    const { vitest, info } = await runFixture()
    expect(processExists(info.redisPid)).toBe(true)
    vitest.kill('SIGKILL')
    await waitUntil('redis-server to die', () => !processExists(info.redisPid) || 'still running', {
      timeoutMs: 5000,
    })
    await waitUntil('its folder to go', () => !existsSync(info.dir) || 'still there', { timeoutMs: 5000 })
  })

  it('SIGKILL of the worker itself: the kernel kills the server (parent-death signal)', async () => {
    const { vitest, info } = await runFixture()
    expect(processExists(info.redisPid)).toBe(true)
    process.kill(info.workerPid, 'SIGKILL')
    await waitUntil('redis-server to die', () => !processExists(info.redisPid) || 'still running', {
      timeoutMs: 5000,
    })
    // No JS ran in the worker: the folder stays (afterEach removes it). vitest itself ends.
    await waitUntil('vitest to exit', () => vitest.exitCode !== null || 'still running', {
      timeoutMs: 15_000,
    })
  })
})
