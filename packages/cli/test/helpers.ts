/**
 * Thin glue over @herdless/test-utils (which spawns and cleans up the redis-server processes):
 * a setup connection per standalone server, and the CLI run in-process with captured output.
 */
import { type RedisServer, startRedis as startServer } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { type CliIo, runCli } from '../src/index'

export { freePort, sleep, startCluster } from '@herdless/test-utils'

export interface TestRedis {
  host: string
  port: number
  url: string
  server: RedisServer
  /** A connection for test setup (ACL SETUSER, filling keys); closed by stop(). */
  client: Redis
  stop(): Promise<void>
}

/** One standalone server; `args` are appended to redis-server's command line. */
export async function startRedis(options: { args?: string[] } = {}): Promise<TestRedis> {
  const server = await startServer({ args: options.args ?? [] })
  const client = new Redis({ host: server.host, port: server.port })
  return {
    host: server.host,
    port: server.port,
    url: server.url,
    server,
    client,
    async stop() {
      client.disconnect()
      await server.stop()
    },
  }
}

/** Runs the CLI in-process and captures what it prints. */
export async function runCliCaptured(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
  }
  const code = await runCli(argv, io)
  return { code, stdout, stderr }
}
