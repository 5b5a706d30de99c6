import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { spawnTracked, terminate } from './processes'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Build workspace packages (and what they depend on) through turbo, so child processes can
 * import their dist: a cache hit when `pnpm test` already built everything.
 */
export function buildPackages(...names: string[]): void {
  execFileSync(
    'pnpm',
    ['exec', 'turbo', 'run', 'build', ...names.map((n) => `--filter=${n}`), '--output-logs=errors-only'],
    { cwd: repoRoot, stdio: 'inherit' },
  )
}

export interface AppProcess {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** SIGTERM (the app closes its cache), then SIGKILL after 5 s. */
  stop(): Promise<void>
}

/**
 * Run `node <script>` as a separate app process, tracked like the Redis servers (killed when the
 * test process exits or dies). The script prints `LISTENING <port>` or `LISTENING <url>` once it
 * accepts connections.
 */
export function startAppProcess(
  script: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<AppProcess> {
  const { child, output } = spawnTracked(process.execPath, [script], { ...process.env, ...env })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void terminate(child)
      reject(new Error(`${script} printed no LISTENING line within ${timeoutMs} ms:\n${output()}`))
    }, timeoutMs)
    child.stdout?.on('data', () => {
      const m = /LISTENING (\S+)/.exec(output())
      if (m?.[1] === undefined) return
      clearTimeout(timer)
      const url = /^\d+$/.test(m[1]) ? `http://127.0.0.1:${m[1]}` : m[1]
      resolve({ url, stop: () => terminate(child) })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${code} before listening:\n${output()}`))
    })
  })
}
