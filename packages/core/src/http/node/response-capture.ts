import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { STREAMED } from '../adapter'
import type { HandlerResult } from '../types'

type Intercepted = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Callback = (error?: Error | null) => void

const INTERCEPTED: readonly Intercepted[] = ['writeHead', 'write', 'end', 'flushHeaders']

/** How a {@link ResponseCapture} captures a response. */
export interface CaptureOptions {
  /**
   * live: a client waits on this response; when it turns out to be a stream (flushHeaders,
   * text/event-stream, or a body over maxBodyBytes) it is handed to the client as it comes.
   * Otherwise (a refresh run no client waits on) such a response is abandoned.
   */
  live: boolean
  /** Past this many bytes the response is let through as a stream. */
  maxBodyBytes: number
  /** Live only: after the client went away, keep capturing this long, then abandon. */
  abandonAfterCloseMs: number
  /** Called once when the capture gives up (to let the handler clean up). */
  onAbandon?: () => void
}

/**
 * Holds a handler's response instead of sending it: writeHead/write/end/flushHeaders are
 * replaced on the response object (own properties, restored afterwards), so the handler's
 * status, headers (set on the real response as usual) and body bytes can be stored and the
 * response sent once the cache has decided, or shared with concurrent requests.
 */
export class ResponseCapture {
  /** What the handler produced: captured, or streamed. */
  readonly result: Promise<HandlerResult>
  readonly #settle: (result: HandlerResult) => void
  readonly #res: ServerResponse
  readonly #options: CaptureOptions
  readonly #saved = new Map<Intercepted, PropertyDescriptor | undefined>()
  readonly #callbacks: Callback[] = []
  #chunks: Buffer[] = []
  #bytes = 0
  #body: Buffer | undefined
  #state: 'capturing' | 'ended' | 'streaming' | 'abandoned' = 'capturing'
  #closeTimer: NodeJS.Timeout | undefined

  constructor(res: ServerResponse, options: CaptureOptions) {
    this.#res = res
    this.#options = options
    let settle: (result: HandlerResult) => void = () => {}
    this.result = new Promise<HandlerResult>((resolve) => {
      settle = resolve
    })
    this.#settle = settle
  }

  /** The captured body, once the handler ended its response. */
  get body(): Buffer | undefined {
    return this.#body
  }

  /** Intercept the response's write methods (call before the handler runs). */
  install(): void {
    const res = this.#res
    for (const m of INTERCEPTED) this.#saved.set(m, Object.getOwnPropertyDescriptor(res, m))
    const define = (name: Intercepted, value: (...args: never[]) => unknown) =>
      Object.defineProperty(res, name, { configurable: true, writable: true, value })
    define('writeHead', (status: number, ...rest: unknown[]) => {
      this.#writeHead(status, rest)
      return res
    })
    define('write', (chunk: unknown, a?: unknown, b?: unknown) => this.#write(chunk, a, b))
    define('end', (chunk?: unknown, a?: unknown, b?: unknown) => {
      this.#end(chunk, a, b)
      return res
    })
    define('flushHeaders', () => this.#flushHeaders())
    if (this.#options.live) {
      res.once('close', () => {
        if (this.#state !== 'capturing') return
        // The client left; the handler may still finish, and its response can serve everyone
        // else (nginx's proxy_ignore_client_abort). Give up only if it never does.
        this.#closeTimer = setTimeout(() => this.abandon(), this.#options.abandonAfterCloseMs)
        this.#closeTimer.unref()
      })
    }
  }

  /** Put the response's own methods back. Idempotent. */
  restore(): void {
    const res = this.#res
    for (const [name, descriptor] of this.#saved) {
      if (descriptor === undefined) Reflect.deleteProperty(res, name)
      else Object.defineProperty(res, name, descriptor)
    }
    this.#saved.clear()
    clearTimeout(this.#closeTimer)
  }

  /** Give up: nothing is stored or shared; further output of the handler is dropped. */
  abandon(): void {
    if (this.#state !== 'capturing') return
    this.#state = 'abandoned'
    this.#chunks = []
    clearTimeout(this.#closeTimer)
    this.#settle(STREAMED)
    this.#options.onAbandon?.()
  }

  /**
   * Send a response on the real object: the handler's own body (`body` undefined) or another
   * one, with headers set and removed first. Runs the handler's end callbacks when done.
   */
  send(
    status: number,
    set: Readonly<Record<string, string>>,
    remove: readonly string[],
    body?: Uint8Array,
  ): void {
    this.restore()
    const res = this.#res
    const callbacks = this.#callbacks.splice(0)
    if (res.headersSent) return
    for (const name of remove) res.removeHeader(name)
    for (const [name, value] of Object.entries(set)) res.setHeader(name, value)
    res.statusCode = status
    const payload = status === 304 || status === 204 ? undefined : body
    res.end(payload, () => {
      for (const cb of callbacks) cb()
    })
  }

  #writeHead(status: number, rest: unknown[]): void {
    if (this.#state !== 'capturing') return
    const res = this.#res
    res.statusCode = status
    let headers = rest[0]
    if (typeof rest[0] === 'string') {
      res.statusMessage = rest[0]
      headers = rest[1]
    }
    if (Array.isArray(headers)) {
      // Raw form: [name, value, name, value, ...] or [[name, value], ...]; names may repeat.
      if (headers.length > 0 && Array.isArray(headers[0])) {
        for (const pair of headers as [string, OutgoingHttpHeader][])
          res.appendHeader(pair[0], headerText(pair[1]))
      } else {
        for (let i = 0; i + 1 < headers.length; i += 2) {
          res.appendHeader(String(headers[i]), headerText(headers[i + 1] as OutgoingHttpHeader))
        }
      }
    } else if (typeof headers === 'object' && headers !== null) {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
        if (value !== undefined) res.setHeader(name, value)
      }
    }
  }

  #write(chunk: unknown, a: unknown, b: unknown): boolean {
    const cb = (typeof a === 'function' ? a : typeof b === 'function' ? b : undefined) as Callback | undefined
    const encoding = typeof a === 'string' ? (a as BufferEncoding) : undefined
    if (this.#state === 'streaming') return this.#res.write(chunk as Buffer, encoding ?? 'utf8', cb)
    if (this.#state !== 'capturing') {
      if (cb) process.nextTick(cb)
      return true
    }
    const contentType = this.#res.getHeader('content-type')
    if (typeof contentType === 'string' && contentType.startsWith('text/event-stream')) {
      return this.#goStreaming(() => this.#res.write(chunk as Buffer, encoding ?? 'utf8', cb))
    }
    const buf = toBuffer(chunk, encoding)
    if (this.#bytes + buf.length > this.#options.maxBodyBytes) {
      return this.#goStreaming(() => this.#res.write(buf, cb))
    }
    if (buf.length > 0) {
      this.#chunks.push(buf)
      this.#bytes += buf.length
    }
    if (cb) process.nextTick(cb)
    return true
  }

  #end(chunk: unknown, a: unknown, b: unknown): void {
    const cb = (
      typeof chunk === 'function'
        ? chunk
        : typeof a === 'function'
          ? a
          : typeof b === 'function'
            ? b
            : undefined
    ) as Callback | undefined
    const data = typeof chunk === 'function' ? undefined : chunk
    const encoding = typeof a === 'string' ? (a as BufferEncoding) : undefined
    if (this.#state === 'streaming') {
      this.#res.end(data as Buffer, encoding ?? 'utf8', cb)
      return
    }
    if (this.#state !== 'capturing') {
      if (cb) process.nextTick(cb)
      return
    }
    const buf = data === undefined || data === null ? undefined : toBuffer(data, encoding)
    if (buf !== undefined && this.#bytes + buf.length > this.#options.maxBodyBytes) {
      this.#goStreaming(() => {
        this.#res.end(buf, cb)
        return true
      })
      return
    }
    if (buf !== undefined && buf.length > 0) {
      this.#chunks.push(buf)
      this.#bytes += buf.length
    }
    if (cb) this.#callbacks.push(cb)
    this.#state = 'ended'
    clearTimeout(this.#closeTimer)
    this.#body = this.#chunks.length === 1 && this.#chunks[0] ? this.#chunks[0] : Buffer.concat(this.#chunks)
    this.#chunks = []
    const res = this.#res
    this.#settle({ kind: 'captured', status: res.statusCode, headers: res.getHeaders(), body: this.#body })
  }

  #flushHeaders(): void {
    if (this.#state === 'streaming') {
      this.#res.flushHeaders()
      return
    }
    if (this.#state !== 'capturing') return
    this.#goStreaming(() => {
      this.#res.flushHeaders()
      return true
    })
  }

  /** Live: hand the response to the client as it comes (it will not be stored). Otherwise give up. */
  #goStreaming(then: () => boolean): boolean {
    if (!this.#options.live) {
      this.abandon()
      return true
    }
    this.#state = 'streaming'
    this.restore()
    const res = this.#res
    for (const buf of this.#chunks) res.write(buf)
    this.#chunks = []
    this.#settle(STREAMED)
    return then()
  }
}

function toBuffer(chunk: unknown, encoding: BufferEncoding | undefined): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8')
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return Buffer.from(String(chunk))
}

function headerText(v: OutgoingHttpHeader): string | string[] {
  return typeof v === 'number' ? String(v) : v
}
