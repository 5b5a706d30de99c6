import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, LOOPBACK } from './ports'
import { isRunning, killHard, spawnTracked, terminate, trackDir, untrackDir } from './processes'
import { parseInfo, RespConnection } from './resp'
import { sleep } from './wait'

export interface StartRedisOptions {
  /**
   * Extra redis-server arguments, appended after the harness's own (so they win):
   * `['--maxmemory', '10mb', '--maxmemory-policy', 'allkeys-lfu']`, `['--requirepass', 's3cret']`,
   * TLS (`['--tls-port', String(await freePort()), '--tls-cert-file', ...]`). The plain `port`
   * stays open on 127.0.0.1: the harness needs it for its own PINGs.
   */
  args?: string[]
  /** Fixed port; default: a free loopback port picked by the kernel. */
  port?: number
  /** How long to wait for the first PONG. @default 15000 */
  startTimeoutMs?: number
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  /** `redis://127.0.0.1:<port>`, with the password when `--requirepass` was given. */
  readonly url: string
  /** The server's private temp folder (its `dir`, log file `redis.log`). */
  readonly dir: string
  /** Current process id (changes on restart()); null while stopped or killed. */
  readonly pid: number | null
  /** The `--requirepass` value, if any. */
  readonly password: string | undefined
  /** Whether the process is running. */
  readonly running: boolean
  /** SIGTERM, then SIGKILL after 5 s; removes the temp folder. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL, no shutdown: "Redis died". Keeps the folder so restart() works. */
  kill(): Promise<void>
  /** Stop if running, start again on the same port with the same arguments and folder. */
  restart(): Promise<void>
  /** The tail of `redis.log`, for failure messages. */
  logTail(bytes?: number): string
}

export const HARNESS_ARGS: readonly string[] = [
  '--bind',
  LOOPBACK,
  '--save',
  '',
  '--appendonly',
  'no',
  '--daemonize',
  'no',
  // DEBUG SLEEP / DEBUG SEGFAULT for "slow Redis" and crash tests; loopback only.
  '--enable-debug-command',
  'local',
]

/** The value following `name` in an argument list (`--requirepass x`). Last one wins. */
export function argValue(args: readonly string[], name: string): string | undefined {
  let value: string | undefined
  for (let i = 0; i < args.length - 1; i++) if (args[i] === name) value = args[i + 1]
  return value
}

function readTail(file: string, bytes: number): string {
  if (!existsSync(file)) return ''
  const text = readFileSync(file, 'utf8')
  return text.slice(-bytes)
}

/**
 * One redis-server process bound to a port and a folder, which can be stopped, killed and
 * started again on the same port with the same arguments. Shared by startRedis and the cluster.
 */
export class ManagedRedis {
  readonly host = LOOPBACK
  readonly port: number
  readonly dir: string
  readonly args: readonly string[]
  readonly password: string | undefined
  #child: ChildProcess | null = null
  #output: () => string = () => ''
  #removed = false

  constructor(spec: { port: number; dir: string; args: readonly string[] }) {
    this.port = spec.port
    this.dir = spec.dir
    this.args = spec.args
    this.password = argValue(spec.args, '--requirepass')
  }

  get logFile(): string {
    return join(this.dir, 'redis.log')
  }

  get pid(): number | null {
    return this.#child && isRunning(this.#child) ? (this.#child.pid ?? null) : null
  }

  get running(): boolean {
    return this.#child !== null && isRunning(this.#child)
  }

  logTail(bytes = 2000): string {
    return readTail(this.logFile, bytes)
  }

  /** Spawn and wait until it answers (INFO with its own pid). Throws (process killed) if it exits or does not answer in time. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.#removed) throw new Error(`redis :${this.port} was stopped and its folder removed`)
    if (this.running) return
    const argv = [
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--logfile',
      this.logFile,
      ...HARNESS_ARGS,
      ...this.args,
    ]
    const { child, output } = spawnTracked('redis-server', argv)
    this.#child = child
    this.#output = output
    const deadline = Date.now() + timeoutMs
    let lastError = ''
    while (Date.now() < deadline) {
      if (!isRunning(child)) {
        // Give the pipes a moment to deliver the fatal config error.
        await sleep(20)
        throw new RedisStartError(this, `exited with ${child.exitCode ?? child.signalCode}`)
      }
      try {
        const conn = await RespConnection.open(this.port, {
          password: this.password,
          timeoutMs: 2000,
        })
        try {
          // The PID check: with a fixed port that is already taken, another server would answer.
          const info = parseInfo(await conn.text('INFO', 'server'))
          if (Number(info.process_id) === child.pid) return
          lastError = `port ${this.port} is answered by another process (pid ${info.process_id})`
        } finally {
          conn.close()
        }
      } catch (error) {
        lastError = (error as Error).message // ECONNREFUSED, LOADING: not ready yet
      }
      await sleep(20)
    }
    await killHard(child)
    throw new RedisStartError(this, `no PONG within ${timeoutMs} ms (last: ${lastError})`)
  }

  /** The child's stdout/stderr tail (fatal config errors land there, not in redis.log). */
  output(): string {
    return this.#output()
  }

  async stop(): Promise<void> {
    if (this.#child) await terminate(this.#child)
  }

  async kill(): Promise<void> {
    if (this.#child) await killHard(this.#child)
  }

  async restart(timeoutMs?: number): Promise<void> {
    await this.stop()
    await this.start(timeoutMs)
  }

  /** Stop (SIGKILL when `hard`) and delete the folder. Idempotent. */
  async destroy(hard = false): Promise<void> {
    if (hard) await this.kill()
    else await this.stop()
    if (this.#removed) return
    this.#removed = true
    await rm(this.dir, { recursive: true, force: true })
    untrackDir(this.dir)
  }
}

export class RedisStartError extends Error {
  override name = 'RedisStartError'
  readonly addressInUse: boolean
  constructor(server: ManagedRedis, reason: string) {
    const output = server.output().trim()
    const log = server.logTail(1500).trim()
    super(
      `redis-server on ${server.host}:${server.port} failed to start: ${reason}` +
        (output ? `\n--- output ---\n${output}` : '') +
        (log ? `\n--- ${server.logFile} ---\n${log}` : ''),
    )
    this.addressInUse = /address already in use/i.test(output + log)
  }
}

/** A fresh temp folder, tracked for removal at exit. */
export async function makeTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `herdless-${label}-`))
  trackDir(dir)
  return dir
}

/**
 * Start a ManagedRedis on `port`, or on a free port with retries when another process grabs the
 * port between the probe and redis-server's bind.
 */
export async function startManaged(spec: {
  dir: string
  args: readonly string[]
  port?: number
  withClusterBus?: boolean
  timeoutMs?: number
}): Promise<ManagedRedis> {
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ?? (await freePort({ withClusterBus: spec.withClusterBus }))
    const server = new ManagedRedis({ port, dir: spec.dir, args: spec.args })
    try {
      await server.start(spec.timeoutMs)
      return server
    } catch (error) {
      const retry = error instanceof RedisStartError && error.addressInUse && spec.port === undefined
      if (!retry || attempt >= 5) throw error
    }
  }
}

/**
 * Start a standalone redis-server on 127.0.0.1 in its own temp folder, with persistence off.
 * Resolves once it answers PING.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await makeTempDir('redis')
  let server: ManagedRedis
  try {
    server = await startManaged({
      dir,
      args: options.args ?? [],
      port: options.port,
      timeoutMs: options.startTimeoutMs,
    })
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    untrackDir(dir)
    throw error
  }
  const auth = server.password ? `:${encodeURIComponent(server.password)}@` : ''
  const url = `redis://${auth}${server.host}:${server.port}`
  return {
    host: server.host,
    port: server.port,
    url,
    dir,
    password: server.password,
    get pid() {
      return server.pid
    },
    get running() {
      return server.running
    },
    stop: () => server.destroy(),
    kill: () => server.kill(),
    restart: () => server.restart(options.startTimeoutMs),
    logTail: (bytes) => server.logTail(bytes),
  }
}
