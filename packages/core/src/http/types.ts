/** Request headers as Node delivers them (lower-case names). */
export type HttpRequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

/** Response headers as a handler left them (`res.getHeaders()`, `reply.getHeaders()`). */
export type HttpResponseHeaders = Readonly<Record<string, string | number | readonly string[] | undefined>>

/** A request as the response cache sees it: each adapter translates its framework's request into this. */
export interface HttpRequestInfo {
  /** `GET`, `HEAD`, `POST`... */
  method: string
  /** Path and query as the client sent them (`/products?page=2`). */
  url: string
  /** The request headers (lower-case names). */
  headers: HttpRequestHeaders
}

/** What the cache did for a request, sent as the `X-Cache` response header. */
export type XCacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

/** Why a request was not looked up in the cache (`X-Cache: BYPASS`). */
export type BypassReason = 'method' | 'authorization' | 'cookie' | 'range' | 'no-store'

/** Why a response produced by a handler was not stored. */
export type UncacheableReason =
  | 'status'
  | 'set-cookie'
  | 'no-store'
  | 'private'
  | 'no-cache'
  | 'expired'
  | 'vary'
  | 'too-large'
  | 'streamed'

/**
 * What a handler produced, as an adapter captured it. `streamed`: the response went to the
 * client as a stream (or was abandoned), so there is no body to store or share.
 */
export type HandlerResult =
  /** A response the adapter captured in full. */
  | {
      /** Captured. */
      kind: 'captured'
      /** HTTP status code. */
      status: number
      /** The handler's response headers. */
      headers: HttpResponseHeaders
      /** The body bytes. */
      body: Uint8Array
    }
  /** A response that went out as a stream: nothing to store. */
  | {
      /** Streamed. */
      kind: 'streamed'
    }

/**
 * One cached response: the value stored in the cache under the request's key (msgpack keeps
 * `body` as bytes). Headers are the safe subset, lower-case.
 */
export interface StoredResponse {
  /** HTTP status code. */
  readonly status: number
  /** The stored headers (the safe subset, lower-case). */
  readonly headers: Readonly<Record<string, string>>
  /** The body bytes. */
  readonly body: Uint8Array
  /** The handler's ETag, or a weak one computed from the body. */
  readonly etag: string
  /** When the handler produced it (ms since epoch): `Age` counts from here. */
  readonly storedAt: number
  /** storedAt + the fresh TTL it was stored with: past it, the copy is served as STALE. */
  readonly freshUntil: number
  /** Past this, the stale copy is not served while refreshing (`stale-while-revalidate`, `must-revalidate`). Absent: no limit but the entry's life. */
  readonly swrUntil?: number
  /** Past this, the stale copy does not stand in for a failing handler (`stale-if-error`). Absent: as above. */
  readonly sieUntil?: number
  /** The response's Vary: the request header values it was produced for (lower-case names). */
  readonly vary?: Readonly<Record<string, string>>
}

/**
 * What an adapter must do after `ResponseCache.lookup()`:
 * - `response`: send `response` (a 304 when `notModified`); `own` means it is this request's
 *   own handler output, already on the framework's response object, so only `headers` need adding.
 * - `own`: the handler's response could not be stored (or shared); send it as the handler made it.
 * - `run`: run the handler for this request, uncached (the response another request
 *   produced could not be shared with this one, or the cache was unusable).
 */
export type CacheOutcome =
  | {
      /** Send the stored (or own) response. */
      readonly kind: 'response'
      /** The X-Cache value (also in `headers`). */
      readonly xCache: Exclude<XCacheStatus, 'BYPASS'>
      /** The response to send. */
      readonly response: StoredResponse
      /** True when `response` is what this request's own handler run produced. */
      readonly own: boolean
      /** 304: the request's If-None-Match matched the stored ETag. Send no body. */
      readonly notModified: boolean
      /** Status line to send: 304 when notModified, else response.status. */
      readonly status: number
      /** Headers to set (lower-case names), X-Cache and Age included. */
      readonly headers: Readonly<Record<string, string>>
      /** Headers to remove before sending (left by a handler whose response is being replaced). */
      readonly removeHeaders: readonly string[]
    }
  | {
      /** Send the handler's own response as it is. */
      readonly kind: 'own'
      /** Always MISS. */
      readonly xCache: 'MISS'
      /** What the handler produced. */
      readonly result: HandlerResult
      /** Headers to set (X-Cache). */
      readonly headers: Readonly<Record<string, string>>
    }
  /** Run the handler uncached, with these headers (X-Cache: MISS). */
  | {
      /** Run the handler uncached. */
      readonly kind: 'run'
      /** Always MISS. */
      readonly xCache: 'MISS'
      /** Headers to set (X-Cache). */
      readonly headers: Readonly<Record<string, string>>
    }

/** How an adapter produces a response for `lookup()`. */
export interface ResponseProducers {
  /**
   * Run the handler for the live request and capture its response. Absent for HEAD (the
   * entry is filled by a GET through `refresh`). Must not reject: resolve `{ kind: 'streamed' }`
   * when the response could not be captured. Set `headers` (X-Cache: MISS) on the response
   * before the handler runs, so a response streamed past the cache carries them too.
   */
  run?: (headers: Readonly<Record<string, string>>) => Promise<HandlerResult>
  /**
   * Run the handler for a copy of the request (GET, no conditional headers) that no client
   * waits on: stale-while-revalidate refreshes and HEAD misses. Abandon the run when `signal`
   * aborts (refreshTimeout).
   */
  refresh: (signal: AbortSignal) => Promise<HandlerResult>
}
