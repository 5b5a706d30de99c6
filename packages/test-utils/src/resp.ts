import { connect, type Socket } from 'node:net'

/**
 * A minimal RESP2 client for the harness's own admin traffic (PING, CLUSTER *, MIGRATE, INFO).
 * Deliberately not ioredis: no reconnection, no offline queue, no cluster redirection and no
 * 'error' events to forget about. One socket, replies matched to calls in order.
 */
export type RespValue = string | number | null | Error | RespValue[]

export class RespReplyError extends Error {
  override name = 'RespReplyError'
}

interface Pending {
  resolve: (value: RespValue) => void
  reject: (error: Error) => void
}

interface Parsed {
  value: RespValue
  offset: number
}

function parse(buf: Buffer, offset: number): Parsed | undefined {
  if (offset >= buf.length) return undefined
  const lineEnd = buf.indexOf('\r\n', offset)
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buf[offset] ?? 0)
  const line = buf.toString('utf8', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, offset: next }
    case '-':
      return { value: new RespReplyError(line), offset: next }
    case ':':
      return { value: Number(line), offset: next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, offset: next }
      if (buf.length < next + len + 2) return undefined
      return { value: buf.toString('utf8', next, next + len), offset: next + len + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, offset: next }
      const items: RespValue[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parse(buf, at)
        if (!item) return undefined
        items.push(item.value)
        at = item.offset
      }
      return { value: items, offset: at }
    }
    default:
      throw new Error(`RESP: unexpected reply type ${JSON.stringify(type)}`)
  }
}

function encode(args: readonly (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const data = Buffer.from(String(arg), 'utf8')
    parts.push(Buffer.from(`$${data.length}\r\n`), data, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

export interface RespConnectOptions {
  host?: string
  password?: string
  /** Connect timeout and per-call timeout, ms. @default 10000 */
  timeoutMs?: number
}

export class RespConnection {
  #socket: Socket
  #pending: Pending[] = []
  #buffer: Buffer = Buffer.alloc(0)
  #closed: Error | null = null
  #timeoutMs: number

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket
    this.#timeoutMs = timeoutMs
    socket.on('data', (chunk) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('connection closed')))
  }

  static open(port: number, options: RespConnectOptions = {}): Promise<RespConnection> {
    const host = options.host ?? '127.0.0.1'
    const timeoutMs = options.timeoutMs ?? 10_000
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host })
      socket.setNoDelay(true)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        const conn = new RespConnection(socket, timeoutMs)
        if (!options.password) return resolve(conn)
        conn.call('AUTH', options.password).then(
          () => resolve(conn),
          (error: Error) => {
            conn.close()
            reject(error)
          },
        )
      })
    })
  }

  /** Send one command; rejects with RespReplyError on an error reply. */
  call(...args: (string | number)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#closed)
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new Error(`${String(args[0])} timed out after ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      this.#pending.push({
        resolve: (value) => {
          clearTimeout(timer)
          if (value instanceof Error) reject(value)
          else resolve(value)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.#socket.write(encode(args))
    })
  }

  /** Like call(), for commands that answer with a bulk string (INFO, CLUSTER NODES). */
  async text(...args: (string | number)[]): Promise<string> {
    const value = await this.call(...args)
    if (typeof value !== 'string') throw new Error(`${String(args[0])}: expected a string reply`)
    return value
  }

  close(): void {
    if (!this.#closed) this.#closed = new Error('connection closed by the harness')
    this.#socket.destroy()
    this.#rejectAll(this.#closed)
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk
    let offset = 0
    for (;;) {
      let parsed: Parsed | undefined
      try {
        parsed = parse(this.#buffer, offset)
      } catch (error) {
        this.#fail(error as Error)
        return
      }
      if (!parsed) break
      offset = parsed.offset
      this.#pending.shift()?.resolve(parsed.value)
    }
    this.#buffer = offset ? this.#buffer.subarray(offset) : this.#buffer
  }

  #fail(error: Error): void {
    if (!this.#closed) this.#closed = error
    this.#socket.destroy()
    this.#rejectAll(error)
  }

  #rejectAll(error: Error): void {
    const pending = this.#pending
    this.#pending = []
    for (const p of pending) p.reject(error)
  }
}

/** Open a connection, send one command, close. */
export async function redisCommand(
  port: number,
  args: (string | number)[],
  options: RespConnectOptions = {},
): Promise<RespValue> {
  const conn = await RespConnection.open(port, options)
  try {
    return await conn.call(...args)
  } finally {
    conn.close()
  }
}

/** `INFO` / `CLUSTER INFO` text as a field map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim()
  }
  return out
}
