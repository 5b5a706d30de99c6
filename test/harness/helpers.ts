import { existsSync, readFileSync } from 'node:fs'

/** Whether a process with this pid exists (zombies count: they still hold the pid). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The executable name of a running process (Linux), e.g. 'redis-server'. */
export function processName(pid: number): string | null {
  const file = `/proc/${pid}/comm`
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : null
}

export function elapsed(since: number): number {
  return Math.round(performance.now() - since)
}
