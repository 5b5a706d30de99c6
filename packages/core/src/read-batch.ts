import type { Entry } from './entry/envelope'
import type { Guard } from './store/guard'
import type { Store } from './store/store'

/** Most keys one MGET carries; a fuller tick is split (values can be up to maxValueBytes each). */
export const MAX_READ_BATCH = 128

interface Pending {
  readonly keys: string[]
  readonly userKeys: string[]
  /** One read per key per batch: callers of one key in one tick share it. */
  readonly byKey: Map<string, Promise<Entry | undefined>>
  readonly replies: Promise<ReadonlyArray<Buffer | null>>
  resolve: (replies: ReadonlyArray<Buffer | null>) => void
  reject: (err: unknown) => void
}

/**
 * Entry reads on a single Redis server, batched per tick: the GETs the engine asks for while
 * one tick runs leave together as one MGET at the end of it (a lone read stays a GET). On the
 * hit path most of a client's cost per call is per command (the command object, its promise,
 * the auto-pipeline bookkeeping, the guard's deadline); one MGET of 30 keys pays that once,
 * and so does Redis. See benchmarks/results/notes.md for the profile that led here.
 *
 * Consistency: a batch is sent after every read in it was asked for, so each caller reads
 * Redis no earlier than it began (the same reasoning as sharing one read between callers of a
 * key in one tick). L1 fills are still fenced with each caller's own epoch (engine.fill).
 * Not used on a cluster (keys of one MGET must share a slot: reads there go one per key).
 */
export class ReadBatcher {
  readonly #store: Store
  readonly #guard: Guard
  readonly #decode: (userKey: string, bytes: Buffer) => Entry | undefined
  #pending: Pending | undefined

  constructor(store: Store, guard: Guard, decode: (userKey: string, bytes: Buffer) => Entry | undefined) {
    this.#store = store
    this.#guard = guard
    this.#decode = decode
  }

  /** The entry under `k` (undefined: none, or undecodable and reported). */
  get(k: string, userKey: string): Promise<Entry | undefined> {
    let b = this.#pending
    if (b === undefined) {
      b = this.#open()
    } else {
      const shared = b.byKey.get(k)
      if (shared !== undefined) return shared
    }
    const i = b.keys.length
    b.keys.push(k)
    b.userKeys.push(userKey)
    const decode = this.#decode
    const p = b.replies.then((replies) => {
      const bytes = replies[i]
      return bytes === null || bytes === undefined ? undefined : decode(userKey, bytes)
    })
    b.byKey.set(k, p)
    if (b.keys.length >= MAX_READ_BATCH) {
      this.#pending = undefined
      this.#send(b)
    }
    return p
  }

  #open(): Pending {
    let resolve!: Pending['resolve']
    let reject!: Pending['reject']
    const replies = new Promise<ReadonlyArray<Buffer | null>>((res, rej) => {
      resolve = res
      reject = rej
    })
    const b: Pending = { keys: [], userKeys: [], byKey: new Map(), replies, resolve, reject }
    this.#pending = b
    // After the microtasks of this tick: every caller resumed by the same socket read joins.
    process.nextTick(this.#flush)
    return b
  }

  readonly #flush = (): void => {
    const b = this.#pending
    if (b === undefined) return
    this.#pending = undefined
    this.#send(b)
  }

  #send(b: Pending): void {
    const keys = b.keys
    if (keys.length === 1) {
      const k = keys[0] as string
      this.#guard
        .call('GET', b.userKeys[0], () => this.#store.get(k), k)
        .then((bytes) => b.resolve([bytes]), b.reject)
      return
    }
    this.#guard.call('MGET', undefined, () => this.#store.getMany(keys), keys[0]).then(b.resolve, b.reject)
  }
}
