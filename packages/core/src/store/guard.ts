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
  readonly #deadlines = new DeadlineList()
  #timer: NodeJS.Timeout | undefined
  /** The only circuit when there is no partition (no Map lookup per call). */
  readonly #single: Circuit = { failures: 0, openUntil: 0, probing: false, state: 'closed' }

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

  #circuit(route: string | undefined): Circuit {
    const name = route === undefined ? '' : this.#name(route)
    if (name === '') return this.#single
    let c = this.#circuits.get(name)
    if (c === undefined) {
      c = { failures: 0, openUntil: 0, probing: false, state: 'closed' }
      this.#circuits.set(name, c)
    }
    return c
  }

  /**
   * Run one Redis call. `route` is a key the command touches (entry or lock key) so a cluster
   * trips only that node's circuit; multi-node commands pass none and share one circuit.
   */
  call<T>(op: string, key: string | undefined, start: () => Promise<T>, route?: string): Promise<T> {
    const circuit = this.#circuit(route)
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
      const d = new Deadline(Date.now() + this.#timeout, op, key, circuit, reject as (e: unknown) => void)
      this.#deadlines.push(d)
      if (this.#timer === undefined) this.#arm(d.at)
      p.then(
        (v) => {
          if (d.done) return
          this.#deadlines.remove(d)
          resolve(this.#ok(circuit, v))
        },
        (err) => {
          if (d.done) return
          this.#deadlines.remove(d)
          reject(this.#fail(circuit, err, op, key))
        },
      )
    })
  }

  /**
   * One timer for every command in flight instead of one per command (a setTimeout +
   * clearTimeout per Redis call showed in the hit and miss profiles). Every command gets the
   * same timeout, so the list is in deadline order: the timer fires at the oldest deadline,
   * rejects what is due and re-arms for the next one.
   */
  #arm(at: number): void {
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, at - Date.now()))
    this.#timer.unref()
  }

  #sweep(): void {
    this.#timer = undefined
    const now = Date.now()
    let d = this.#deadlines.head
    while (d !== undefined && d.at <= now) {
      this.#deadlines.remove(d)
      d.done = true
      d.reject(this.#fail(d.circuit, new StoreTimeoutError(d.op, this.#timeout, d.key), d.op, d.key))
      d = this.#deadlines.head
    }
    if (d !== undefined) this.#arm(d.at)
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

/** A command in flight with its deadline (a node of the guard's deadline-ordered list). */
class Deadline {
  done = false
  prev: Deadline | undefined = undefined
  next: Deadline | undefined = undefined
  constructor(
    readonly at: number,
    readonly op: string,
    readonly key: string | undefined,
    readonly circuit: Circuit,
    readonly reject: (e: unknown) => void,
  ) {}
}

/** Doubly linked, so a command that answers leaves it in O(1). */
class DeadlineList {
  head: Deadline | undefined = undefined
  #tail: Deadline | undefined = undefined

  push(d: Deadline): void {
    d.prev = this.#tail
    if (this.#tail === undefined) this.head = d
    else this.#tail.next = d
    this.#tail = d
  }

  remove(d: Deadline): void {
    if (d.prev === undefined) this.head = d.next
    else d.prev.next = d.next
    if (d.next === undefined) this.#tail = d.prev
    else d.next.prev = d.prev
    d.prev = undefined
    d.next = undefined
  }
}
