import {
  type CacheError,
  CircuitOpenError,
  isCacheError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../errors'
import { isReplyError } from './client'

export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * The one choke point every L2 call goes through: a per-command deadline, a circuit breaker,
 * and errors turned into coded CacheErrors. What to do with a failure (fail open or throw)
 * is the engine's call; the guard only reports it.
 */
interface Circuit {
  failures: number
  openUntil: number
  probing: boolean
  state: BreakerState
}

/**
 * The one choke point every L2 call goes through: a per-command deadline, a circuit breaker,
 * and errors turned into coded CacheErrors. What to do with a failure (fail open or throw)
 * is the engine's call; the guard only reports it.
 *
 * On a cluster the breaker is kept per primary (`partition` maps a routed key to its node):
 * one dead shard must not stop the live shards from being used.
 */
export class Guard {
  readonly #timeout: number
  readonly #threshold: number
  readonly #cooldown: number
  readonly #partition: ((routeKey: string) => string) | undefined
  readonly #circuits = new Map<string, Circuit>()

  /**
   * @param timeout ms, 0 for none (the memory store) @param threshold 0 disables the breaker
   * @param partition routed key → circuit name (a cluster's node); absent: one circuit
   */
  constructor(
    timeout: number,
    threshold: number,
    cooldown: number,
    partition?: (routeKey: string) => string,
  ) {
    this.#timeout = timeout
    this.#threshold = threshold
    this.#cooldown = cooldown
    this.#partition = partition
  }

  /** State of the circuit a key routes to (the only one without a partition). */
  state(routeKey = ''): BreakerState {
    return this.#circuits.get(this.#name(routeKey))?.state ?? 'closed'
  }

  /**
   * Run one Redis call. `route` is a key the command touches (entry or lock key) so a cluster
   * trips only that node's circuit; multi-node commands pass none and share one circuit.
   */
  call<T>(op: string, key: string | undefined, start: () => Promise<T>, route?: string): Promise<T> {
    let c = this.#circuits.get(route === undefined ? '' : this.#name(route))
    if (c === undefined) {
      c = { failures: 0, openUntil: 0, probing: false, state: 'closed' }
      this.#circuits.set(route === undefined ? '' : this.#name(route), c)
    }
    const circuit = c
    if (circuit.state !== 'closed' && !this.#admit(circuit)) return Promise.reject(new CircuitOpenError(key))
    let p: Promise<T>
    try {
      p = start()
    } catch (err) {
      return Promise.reject(this.#fail(circuit, err, op, key))
    }
    if (this.#timeout <= 0) {
      return p.then(
        (v) => this.#ok(circuit, v),
        (err) => Promise.reject(this.#fail(circuit, err, op, key)),
      )
    }
    return new Promise<T>((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => {
        done = true
        reject(this.#fail(circuit, new StoreTimeoutError(op, this.#timeout, key), op, key))
      }, this.#timeout)
      p.then(
        (v) => {
          if (done) return
          clearTimeout(timer)
          resolve(this.#ok(circuit, v))
        },
        (err) => {
          if (done) return
          clearTimeout(timer)
          reject(this.#fail(circuit, err, op, key))
        },
      )
    })
  }

  #name(routeKey: string): string {
    return this.#partition === undefined || routeKey === '' ? '' : this.#partition(routeKey)
  }

  #admit(c: Circuit): boolean {
    if (c.state === 'open') {
      if (Date.now() < c.openUntil) return false
      c.state = 'half-open'
      c.probing = false
    }
    // half-open: one probe at a time decides whether the circuit closes.
    if (c.probing) return false
    c.probing = true
    return true
  }

  #ok<T>(c: Circuit, v: T): T {
    if (c.state !== 'closed' || c.failures !== 0) {
      c.failures = 0
      c.state = 'closed'
      c.probing = false
    }
    return v
  }

  #fail(c: Circuit, err: unknown, op: string, key: string | undefined): CacheError {
    // A Redis error reply (OOM, NOPERM, WRONGTYPE) means Redis is up: not a breaker failure.
    const reply = isReplyError(err)
    if (!reply) {
      c.failures++
      if (c.state === 'half-open' || (this.#threshold > 0 && c.failures >= this.#threshold)) {
        c.state = 'open'
        c.openUntil = Date.now() + this.#cooldown
        c.probing = false
      }
    } else if (c.state === 'half-open') {
      this.#ok(c, undefined)
    }
    if (isCacheError(err)) return err
    const message = err instanceof Error ? err.message : String(err)
    return new StoreUnavailableError(`Redis ${op} failed: ${message}`, { key, cause: err })
  }
}
