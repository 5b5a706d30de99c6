import {
  type CacheError,
  CircuitOpenError,
  isCacheError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../errors'

export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * The one choke point every L2 call goes through: a per-command deadline, a circuit breaker,
 * and errors turned into coded CacheErrors. What to do with a failure (fail open or throw)
 * is the engine's call; the guard only reports it.
 */
export class Guard {
  readonly #timeout: number
  readonly #threshold: number
  readonly #cooldown: number
  #failures = 0
  #openUntil = 0
  #probing = false
  state: BreakerState = 'closed'

  /** @param timeout ms, 0 for none (the memory store) @param threshold 0 disables the breaker */
  constructor(timeout: number, threshold: number, cooldown: number) {
    this.#timeout = timeout
    this.#threshold = threshold
    this.#cooldown = cooldown
  }

  call<T>(op: string, key: string | undefined, start: () => Promise<T>): Promise<T> {
    if (this.state !== 'closed' && !this.#admit()) return Promise.reject(new CircuitOpenError(key))
    let p: Promise<T>
    try {
      p = start()
    } catch (err) {
      return Promise.reject(this.#fail(err, op, key))
    }
    if (this.#timeout <= 0) {
      return p.then(
        (v) => this.#ok(v),
        (err) => Promise.reject(this.#fail(err, op, key)),
      )
    }
    return new Promise<T>((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => {
        done = true
        reject(this.#fail(new StoreTimeoutError(op, this.#timeout, key), op, key))
      }, this.#timeout)
      p.then(
        (v) => {
          if (done) return
          clearTimeout(timer)
          resolve(this.#ok(v))
        },
        (err) => {
          if (done) return
          clearTimeout(timer)
          reject(this.#fail(err, op, key))
        },
      )
    })
  }

  #admit(): boolean {
    if (this.state === 'open') {
      if (Date.now() < this.#openUntil) return false
      this.state = 'half-open'
      this.#probing = false
    }
    // half-open: one probe at a time decides whether the circuit closes.
    if (this.#probing) return false
    this.#probing = true
    return true
  }

  #ok<T>(v: T): T {
    if (this.state !== 'closed' || this.#failures !== 0) {
      this.#failures = 0
      this.state = 'closed'
      this.#probing = false
    }
    return v
  }

  #fail(err: unknown, op: string, key: string | undefined): CacheError {
    // A Redis error reply (OOM, NOPERM, WRONGTYPE) means Redis is up: not a breaker failure.
    const reply = err instanceof Error && err.name === 'ReplyError'
    if (!reply) {
      this.#failures++
      if (this.state === 'half-open' || (this.#threshold > 0 && this.#failures >= this.#threshold)) {
        this.state = 'open'
        this.#openUntil = Date.now() + this.#cooldown
        this.#probing = false
      }
    } else if (this.state === 'half-open') {
      this.#ok(undefined)
    }
    if (isCacheError(err)) return err
    const message = err instanceof Error ? err.message : String(err)
    return new StoreUnavailableError(`Redis ${op} failed: ${message}`, { key, cause: err })
  }
}
