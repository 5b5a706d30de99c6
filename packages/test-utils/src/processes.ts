import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'

/**
 * Every redis-server this process spawned, and every temp folder it created, so that nothing
 * outlives the test run:
 *
 * - `process.on('exit')` SIGKILLs every tracked server and removes every tracked folder
 *   synchronously (this also covers `process.exit()` from vitest's workers);
 * - SIGINT / SIGTERM / SIGHUP do the same, then re-raise the signal when nobody else listens
 *   for it (so the default "terminate" behaviour is kept);
 * - in a forked worker, the IPC 'disconnect' (the parent vitest process died, even by SIGKILL)
 *   does the same;
 * - on Linux each server is exec'd through `setpriv --pdeathsig KILL`, so the kernel SIGKILLs it
 *   when the spawning process dies abruptly (SIGKILL, OOM killer, crash), where no JS runs; its
 *   temp folder then stays behind.
 *   Caveat: the death signal follows the spawning *thread*; under vitest's `threads` pool a
 *   server started in a test dies with its worker thread (the default `forks` pool is fine).
 *   Without setpriv (macOS) only the JS handlers apply: a SIGKILLed parent leaves servers behind,
 *   and their temp folders (`herdless-redis-*` under os.tmpdir()) too.
 *
 * The registry lives on globalThis so that several copies of this module (vitest loads a fresh
 * module graph per test file) install the process handlers only once.
 */
interface Registry {
  children: Set<ChildProcess>
  dirs: Set<string>
  installed: boolean
}

const REGISTRY_KEY = Symbol.for('herdless.test-utils.registry')
type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: Registry }

function registry(): Registry {
  const g = globalThis as GlobalWithRegistry
  let reg = g[REGISTRY_KEY]
  if (!reg) {
    reg = { children: new Set(), dirs: new Set(), installed: false }
    g[REGISTRY_KEY] = reg
  }
  return reg
}

/** SIGKILL every tracked server and delete every tracked folder, synchronously. */
export function cleanupAllSync(): void {
  const reg = registry()
  for (const child of reg.children) {
    if (isRunning(child)) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  reg.children.clear()
  for (const dir of reg.dirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // best effort: a folder we cannot remove must not hide the real exit reason
    }
  }
  reg.dirs.clear()
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function installHandlers(reg: Registry): void {
  if (reg.installed) return
  reg.installed = true
  process.on('exit', cleanupAllSync)
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      cleanupAllSync()
      // Listening to a signal disables Node's default exit; if we were the only listener,
      // restore the default and re-raise so the process still terminates.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    }
    process.on(signal, onSignal)
  }
  // In a forked worker (vitest's default pool) the IPC channel closes when the parent dies,
  // even by SIGKILL: kill our servers and remove their folders then rather than when this orphaned
  // worker eventually exits.
  if (process.send) process.once('disconnect', cleanupAllSync)
}

export function trackDir(dir: string): void {
  const reg = registry()
  installHandlers(reg)
  reg.dirs.add(dir)
}

export function untrackDir(dir: string): void {
  registry().dirs.delete(dir)
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

let setprivPath: string | null | undefined

/** `setpriv` from util-linux, when it supports --pdeathsig (Linux only). */
function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath
  setprivPath = null
  if (process.platform !== 'linux') return setprivPath
  for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv']) {
    try {
      execFileSync(candidate, ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5000 })
      setprivPath = candidate
      break
    } catch {
      // not there, or too old for --pdeathsig
    }
  }
  return setprivPath
}

export interface TrackedChild {
  child: ChildProcess
  /** Last few KB of the child's stdout + stderr (redis-server prints config errors there). */
  output(): string
}

/**
 * Spawn a long-lived helper process (redis-server), tracked for cleanup and bound to this
 * process's life with a parent-death signal where available. The child is unref'd: a server a
 * test forgot to stop never keeps Node alive; the exit handler kills it.
 */
export function spawnTracked(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): TrackedChild {
  const reg = registry()
  installHandlers(reg)
  const setpriv = findSetpriv()
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      })
    : spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let buffer = ''
  const collect = (chunk: Buffer): void => {
    buffer = (buffer + chunk.toString('utf8')).slice(-4096)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  child.on('error', (error) => {
    buffer += `\nspawn error: ${error.message}`
  })
  reg.children.add(child)
  child.once('exit', () => reg.children.delete(child))
  child.unref()
  // The pipes hold the event loop too: unref them like the process itself.
  for (const stream of [child.stdout, child.stderr]) {
    ;(stream as unknown as { unref?: () => void } | null)?.unref?.()
  }
  return { child, output: () => buffer }
}

/** Resolve once the child has exited (immediately if it already has). */
export function waitForExit(child: ChildProcess, timeoutMs = 10_000): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit)
      resolve(false)
    }, timeoutMs)
    const onExit = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once('exit', onExit)
  })
}

/** SIGTERM (Redis shuts down cleanly), then SIGKILL if it has not exited after `graceMs`. */
export async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(child)) return
  child.kill('SIGTERM')
  if (await waitForExit(child, graceMs)) return
  child.kill('SIGKILL')
  await waitForExit(child, 5000)
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return
  child.kill('SIGKILL')
  await waitForExit(child, 5000)
}
