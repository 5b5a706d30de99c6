import { isIP } from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { ConnectionError, UsageError } from './errors'
import { formatAddr } from './nodes'

export const DEFAULT_TIMEOUT_MS = 5000

/** What a `redis://` / `rediss://` URL says, as ioredis options. */
export interface RedisTarget {
  /** Host name or address. */
  host: string
  /** TCP port. */
  port: number
  /** ACL user, from the URL. */
  username: string | undefined
  /** Password, from the URL. */
  password: string | undefined
  /** Database number (`/2` in the URL). */
  db: number | undefined
  /** `rediss://`. */
  tls: boolean
}

/**
 * Accepts `redis://[user[:password]@]host[:port][/db]`, `rediss://...` (TLS) and a bare
 * `host:port`. Parsed here rather than handed to ioredis so the same credentials and TLS
 * setting can be reused for every node a cluster seed leads to.
 */
export function parseRedisUrl(input: string): RedisTarget {
  const text = input.includes('://') ? input : `redis://${input}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`not a Redis URL: ${input} (expected redis://host:port)`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(
      `unsupported URL scheme ${url.protocol} in ${redactUrl(input)} (use redis:// or rediss://)`,
    )
  }
  const port = url.port === '' ? 6379 : Number(url.port)
  const dbText = url.pathname.replace(/^\//, '')
  const db = dbText === '' ? undefined : Number(dbText)
  if (db !== undefined && !Number.isInteger(db)) {
    throw new UsageError(`bad database number "${dbText}" in ${redactUrl(input)}`)
  }
  return {
    // WHATWG URL keeps the brackets of an IPv6 host; sockets want them gone.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    db,
    tls: url.protocol === 'rediss:',
  }
}

/** The URL with its password replaced by `***`, safe to print and to put in reports. */
export function redactUrl(input: string): string {
  return input.replace(/^(\w+:\/\/[^:/@]*:)[^@/]*@/, '$1***@')
}

export interface OpenOptions {
  redisOptions?: RedisOptions | undefined
  timeoutMs?: number | undefined
}

/**
 * One standalone connection to one node, verified with PING. Never retries: a doctor that
 * hangs on a dead node is worse than one that says so. Throws ConnectionError.
 */
export async function openConnection(
  target: RedisTarget,
  host: string,
  port: number,
  options: OpenOptions,
): Promise<Redis> {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const client = new Redis({
    username: target.username,
    password: target.password,
    db: target.db,
    // SNI takes a name, never an IP (Node warns on one); cluster nodes are usually announced by IP.
    ...(target.tls ? { tls: isIP(host) === 0 ? { servername: host } : {} } : {}),
    lazyConnect: true,
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // The ready check runs INFO, which an ACL may deny; PING below is the real check.
    enableReadyCheck: false,
    enableOfflineQueue: false,
    // CLIENT SETINFO is two more round trips before connect() resolves: a hung server would cost the timeout twice.
    disableClientInfo: true,
    // After QUIT/FIN a healthy server closes at once; a hung one must not hold us for ioredis's 2 s default.
    disconnectTimeout: 200,
    ...options.redisOptions,
    // Last: each node of a cluster is reached at its own address, whatever redisOptions says.
    host,
    port,
  })
  // The socket-level error (ECONNREFUSED, WRONGPASS) arrives as an event; the promise only
  // says "Connection is closed." Keep the event's message for the report.
  let lastError: Error | undefined
  client.on('error', (error: Error) => {
    lastError = error
  })
  try {
    await client.connect()
    await client.ping()
    // ioredis pipelines AUTH and our PING: a refused AUTH can still let PING through as the
    // default user before ioredis drops the connection. Any error event here is a refusal.
    if (lastError !== undefined) throw lastError
    if (client.status !== 'ready') throw new Error(`connection is ${client.status}`)
    return client
  } catch (error) {
    // A socket that never opened is already 'end'; disconnect() on it would arm ioredis's
    // 2 s disconnect timer for a close event that never comes, holding the process open.
    if (client.status !== 'end') client.disconnect()
    let detail = lastError?.message ?? (error instanceof Error ? error.message : String(error))
    if (/timed out/i.test(detail)) detail = `no reply within ${timeout} ms (${detail})`
    throw new ConnectionError(formatAddr(host, port), detail, lastError ?? error)
  }
}

/** Runs `fn` and turns any failure into a reason string. */
export type Probe<T> = { ok: true; value: T } | { ok: false; reason: string }

export async function probe<T>(fn: () => Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await fn() }
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) }
  }
}
