import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import type { Command, Hello, Reply } from './fleet-protocol'

/** N worker processes (src/worker.ts) driven over IPC. Always close() it. */
export class Fleet {
  readonly #children: ChildProcess[]
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #nextId = 1

  private constructor(children: ChildProcess[]) {
    this.#children = children
    for (const child of children) {
      child.on('message', (msg: Reply | Hello) => {
        if (!('id' in msg)) return
        const p = this.#pending.get(msg.id)
        if (p === undefined) return
        this.#pending.delete(msg.id)
        if (msg.ok) p.resolve(msg.result)
        else p.reject(new Error(`worker ${child.pid}: ${msg.error}`))
      })
      child.on('exit', (code, signal) => {
        for (const [id, p] of this.#pending) {
          this.#pending.delete(id)
          p.reject(new Error(`worker ${child.pid} exited (${code ?? signal}) with a request pending`))
        }
      })
    }
  }

  static async start(count: number, benchDir: string): Promise<Fleet> {
    const script = join(benchDir, 'src', 'worker.ts')
    const children = Array.from({ length: count }, () =>
      fork(script, [], {
        cwd: benchDir,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    const fleet = new Fleet(children)
    try {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('worker did not start within 30 s')), 30_000)
              child.once('message', () => {
                clearTimeout(timer)
                resolve()
              })
              child.once('exit', (code) => {
                clearTimeout(timer)
                reject(new Error(`worker exited during start (${code})`))
              })
            }),
        ),
      )
    } catch (err) {
      await fleet.close()
      throw err
    }
    return fleet
  }

  get size(): number {
    return this.#children.length
  }

  request<T>(index: number, cmd: Command): Promise<T> {
    const child = this.#children[index]
    if (child === undefined) return Promise.reject(new Error(`no worker ${index}`))
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      child.send({ ...cmd, id })
    })
  }

  all<T>(cmd: Command): Promise<T[]> {
    return Promise.all(this.#children.map((_, i) => this.request<T>(i, cmd)))
  }

  /** Disconnect (workers close their contender and exit), SIGKILL any still alive after 5 s. */
  async close(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            const timer = setTimeout(() => {
              child.kill('SIGKILL')
            }, 5_000)
            child.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            if (child.connected) child.disconnect()
            else child.kill('SIGTERM')
          }),
      ),
    )
  }
}
