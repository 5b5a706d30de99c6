import type { Cluster } from 'ioredis'

/** What we need of a node's socket (net.Socket or tls.TLSSocket). */
interface Corkable {
  cork(): void
  uncork(): void
}

function corkable(stream: unknown): stream is Corkable {
  return (
    typeof stream === 'object' &&
    stream !== null &&
    typeof (stream as Partial<Corkable>).cork === 'function' &&
    typeof (stream as Partial<Corkable>).uncork === 'function'
  )
}

/**
 * The speed of auto-pipelining on a Cluster without its pipelines (issue 21, ioredis#2075).
 *
 * What auto-pipelining buys is mostly fewer syscalls: one socket write per node per tick
 * instead of one per command (and so fewer reads on the server). What it costs on a cluster is
 * correctness: ioredis sends each tick's commands as a cluster Pipeline, and a pipeline that
 * meets ASK during a slot migration is re-sent whole with ASKING to the importing node, where
 * the keys not yet moved read as null (a false miss); after a reshard, pipelines of moved slots
 * kept failing with raw MOVED errors.
 *
 * So Herdless keeps auto-pipelining off and gets the batching underneath ioredis instead: the
 * first command of a tick corks the socket of every node the client may send to, and a
 * setImmediate (the same point where ioredis flushes its auto-pipelines) uncorks them, so each
 * node's commands of that tick leave in one writev. Every command is still a single command to
 * ioredis: it is routed, redirected (MOVED, ASK + ASKING for that command alone), retried and
 * timed exactly as without batching; only its bytes wait for the end of the tick.
 *
 * Sockets that appear after the cork (a node learnt from a slot refresh, a reconnect) are
 * simply written unbatched until the next tick. Cork and uncork always come in pairs on the
 * same socket object, so a socket someone else corks stays corked as they left it.
 */
export class WriteCoalescer {
  readonly #cluster: Cluster
  readonly #role: 'master' | 'all'
  #held: Corkable[] = []
  #scheduled = false

  constructor(cluster: Cluster) {
    this.#cluster = cluster
    // Reads go to replicas only with scaleReads other than 'master' (the default).
    const scaleReads = (cluster as { options?: { scaleReads?: unknown } }).options?.scaleReads
    this.#role = scaleReads === undefined || scaleReads === 'master' ? 'master' : 'all'
  }

  /** Call before sending a command: its bytes (and the rest of this tick's) leave together. */
  hold(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    const held = this.#held
    for (const node of this.#cluster.nodes(this.#role)) {
      const stream = (node as { stream?: unknown }).stream
      if (corkable(stream)) {
        stream.cork()
        held.push(stream)
      }
    }
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const held = this.#held
    this.#held = []
    for (const stream of held) {
      try {
        stream.uncork()
      } catch {
        // a destroyed socket: ioredis fails or retries its commands on 'close'
      }
    }
  }
}
