import type { Arg, Client } from './client'
import type { LuaScript } from './scripts'

/** Most entries one batched script call carries. */
const MAX_SCRIPT_BATCH = 128

interface Item {
  readonly keys: readonly [string, string]
  readonly args: readonly Arg[]
  readonly resolve: (r: unknown) => void
  readonly reject: (err: unknown) => void
}

/**
 * One per-entry script (LOCK_OR_READ, WRITE_LOADED) batched per tick on a single server: the
 * calls made while one tick runs leave together as one call of its _MANY twin, which runs the
 * same steps per entry and answers one reply per entry (a lone call runs the script itself, so
 * a quiet cache sends exactly the commands it always did). Per call, a miss's cost is mostly the
 * command (ioredis's Command, auto-pipeline bookkeeping, EVALSHA's dispatch in Redis); one call
 * for the tick's misses pays that once. An entry whose steps failed in the batch (-1: e.g. a
 * key of the wrong type) runs alone, so its caller gets its own error and no other entry fails.
 */
export class ScriptBatcher {
  #items: Item[] = []
  #scheduled = false

  constructor(
    readonly client: Client,
    readonly single: LuaScript,
    readonly many: LuaScript,
    readonly buffers: boolean,
  ) {}

  run(keys: readonly [string, string], args: readonly Arg[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#items.push({ keys, args, resolve, reject })
      if (this.#items.length >= MAX_SCRIPT_BATCH) this.#flush()
      else if (!this.#scheduled) {
        this.#scheduled = true
        process.nextTick(this.#flush)
      }
    })
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const items = this.#items
    if (items.length === 0) return
    this.#items = []
    if (items.length === 1) {
      const it = items[0] as Item
      this.#alone(it)
      return
    }
    const keys: string[] = []
    const args: Arg[] = []
    for (const it of items) {
      keys.push(it.keys[0], it.keys[1])
      for (const a of it.args) args.push(a)
    }
    this.#call(this.many, keys, args).then(
      (replies) => {
        const out = replies as unknown[]
        for (let i = 0; i < items.length; i++) {
          const it = items[i] as Item
          const r = Array.isArray(out) ? out[i] : undefined
          if (r === -1 || r === undefined) this.#alone(it)
          else it.resolve(r)
        }
      },
      (err) => {
        for (const it of items) it.reject(err)
      },
    )
  }

  #alone(it: Item): void {
    this.#call(this.single, it.keys, it.args).then(it.resolve, it.reject)
  }

  #call(script: LuaScript, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    return this.buffers ? script.runBuffer(this.client, keys, args) : script.run(this.client, keys, args)
  }
}
