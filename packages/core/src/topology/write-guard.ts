import { InvalidOptionError, WriteSkippedError } from '../errors'
import type { TopologySnapshot } from '../types'
import type { TopologyMonitor } from './monitor'

/** What `cache.writeGuard` shows. */
export interface WriteGuardStats {
  /** Writes to a primary above this `used_memory / maxmemory` are skipped. */
  readonly maxMemoryRatio: number
  /** L2 writes skipped so far. */
  readonly skipped: number
}

/**
 * Skips L2 writes to a primary whose memory is above `maxMemoryRatio`, judged from the
 * topology monitor's last snapshot only (never a Redis call per write). The entry key is mapped
 * to its primary by hash slot. The caller still gets its value; the engine emits the skip.
 */
export class WriteGuard implements WriteGuardStats {
  readonly maxMemoryRatio: number
  readonly #monitor: TopologyMonitor
  #skipped = 0
  /** The snapshot `#hot` was computed for: the slot lookup is skipped while no node is full. */
  #seen: TopologySnapshot | undefined
  #hot = false

  constructor(monitor: TopologyMonitor, maxMemoryRatio = 0.85) {
    if (typeof maxMemoryRatio !== 'number' || !(maxMemoryRatio > 0 && maxMemoryRatio <= 1)) {
      throw new InvalidOptionError(
        'writeGuard.maxMemoryRatio',
        'a number in (0, 1], e.g. 0.85',
        maxMemoryRatio,
      )
    }
    this.#monitor = monitor
    this.maxMemoryRatio = maxMemoryRatio
  }

  get skipped(): number {
    return this.#skipped
  }

  /** The error to skip this write with, or undefined to let it through. */
  check(entryKey: string, userKey: string): WriteSkippedError | undefined {
    const snapshot = this.#monitor.snapshot
    if (snapshot === undefined) return undefined
    if (snapshot !== this.#seen) {
      this.#seen = snapshot
      this.#hot = snapshot.nodes.some((n) => n.role === 'primary' && this.#full(n.maxMemory, n.memoryRatio))
    }
    if (!this.#hot) return undefined
    const node = this.#monitor.nodeForKey(entryKey)
    if (node === undefined || !this.#full(node.maxMemory, node.memoryRatio)) return undefined
    this.#skipped++
    return new WriteSkippedError(
      userKey,
      `node ${node.address} is at ${Math.round(node.memoryRatio * 100)}% of maxmemory, over ` +
        `writeGuard.maxMemoryRatio ${this.maxMemoryRatio} (raise maxmemory or add shards)`,
    )
  }

  #full(maxMemory: number, ratio: number): boolean {
    return maxMemory > 0 && ratio > this.maxMemoryRatio
  }
}
