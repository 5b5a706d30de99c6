import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitUntil } from '@herdless/test-utils'
import type { CacheOptions } from '../../src/index'

const here = dirname(fileURLToPath(import.meta.url))
const coreDir = join(here, '..', '..')

function newest(dir: string): number {
  let t = 0
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name)
    t = Math.max(t, name.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

/** Peers run the built package; rebuild it when src is newer than dist. */
export function ensureCoreBuilt(): void {
  const dist = join(coreDir, 'dist', 'index.js')
  const fresh = () => existsSync(dist) && statSync(dist).mtimeMs >= newest(join(coreDir, 'src'))
  if (fresh()) return
  // Test files run in parallel: one builds (tsup cleans dist first), the others wait.
  const lock = join(coreDir, '.build-lock')
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 2 minutes; remove it if no build runs`)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
    }
  }
  try {
    if (!fresh())
      execFileSync('pnpm', ['--filter', '@herdless/core', 'build'], { cwd: coreDir, stdio: 'ignore' })
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

export interface PeerStats {
  l1: number
  l2: number
  ready: number
  reconnected: number
  rejected: number
  loads: number
  l1Size: number
}

export interface Peer {
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>
  stats(): Promise<PeerStats>
  close(): Promise<void>
}

/** Fork a peer process with its own cache (options must be JSON) and wait for its bus. */
export async function startPeer(options: CacheOptions): Promise<Peer> {
  const child: ChildProcess = fork(join(here, 'l1-peer.mjs'), {
    env: { ...process.env, PEER_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let seq = 0
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.on(
      'message',
      (m: { id?: number; ok?: boolean; result?: unknown; error?: string; hello?: boolean }) => {
        if (m.hello) return resolve()
        const p = m.id === undefined ? undefined : pending.get(m.id)
        if (p === undefined || m.id === undefined) return
        pending.delete(m.id)
        if (m.ok) p.resolve(m.result)
        else p.reject(new Error(m.error))
      },
    )
  })
  const call = <T>(op: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      child.send({ id, op, ...args })
    })
  const peer: Peer = {
    call,
    stats: () => call<PeerStats>('stats'),
    async close() {
      if (child.exitCode === null) {
        await call('close').catch(() => {})
        child.kill()
      }
    },
  }
  if (options.redis !== undefined) {
    try {
      await waitUntil(
        'the peer bus to subscribe',
        async () => (await peer.stats()).ready > 0 || 'not subscribed',
        {
          timeoutMs: 10_000,
        },
      )
    } catch (err) {
      // A peer that never became ready must not outlive the test that started it.
      child.kill('SIGKILL')
      throw err
    }
  }
  return peer
}
