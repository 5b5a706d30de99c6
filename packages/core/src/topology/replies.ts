/** Parsers for the text replies the topology monitor reads. Pure functions, no I/O. */

/** `INFO` / `CLUSTER INFO` text as a field map; section headers and blank lines dropped. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return out
}

/** A finite number from an INFO field, 0 when absent or not numeric. */
export function infoNumber(fields: Map<string, string> | undefined, name: string): number {
  const n = Number(fields?.get(name))
  return Number.isFinite(n) ? n : 0
}

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeLine {
  /** The node id. */
  id: string
  /** `host:port` as announced (ioredis keys its node connections the same way). */
  address: string
  /** The raw flags (`master`, `slave`, `myself`, `fail?`, ...). */
  flags: readonly string[]
  /** Primary or replica. */
  role: 'primary' | 'replica'
  /** A replica's primary. */
  primaryId: string | undefined
  /** Flagged `fail` by the cluster (a majority of primaries agreed). */
  failed: boolean
  /** Flagged `fail?` by the node we asked. */
  suspected: boolean
  /** Slot ranges served, inclusive. */
  slots: Array<[number, number]>
}

/**
 * `<id> <ip:port@cport[,hostname]> <flags> <primary|-> <ping> <pong> <epoch> <link> <slot>...`.
 * Nodes without a usable address (`noaddr`, `handshake`) are dropped: nothing can reach them.
 * `[slot->-id]` / `[slot-<-id]` tokens mark a migration in progress, not ownership.
 */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const out: ClusterNodeLine[] = []
  for (const raw of text.split('\n')) {
    const parts = raw.trim().split(' ')
    const [id, endpoint, flagText, primary] = parts
    if (parts.length < 8 || id === undefined || endpoint === undefined || flagText === undefined) continue
    const flags = flagText.split(',')
    if (flags.includes('noaddr') || flags.includes('handshake')) continue
    const address = (endpoint.split(',')[0] ?? '').split('@')[0] ?? ''
    if (!address.includes(':')) continue
    const slots: Array<[number, number]> = []
    for (const token of parts.slice(8)) {
      if (token === '' || token.startsWith('[')) continue
      const dash = token.indexOf('-')
      const a = Number(dash === -1 ? token : token.slice(0, dash))
      const b = Number(dash === -1 ? token : token.slice(dash + 1))
      if (Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= a && b < 16_384) slots.push([a, b])
    }
    out.push({
      id,
      address,
      flags,
      role: flags.includes('master') ? 'primary' : 'replica',
      primaryId: primary === undefined || primary === '-' ? undefined : primary,
      failed: flags.includes('fail'),
      suspected: flags.includes('fail?'),
      slots,
    })
  }
  return out
}

/** How many slots the ranges cover. */
export function countSlots(ranges: ReadonlyArray<readonly [number, number]>): number {
  let n = 0
  for (const [a, b] of ranges) n += b - a + 1
  return n
}

/** `[[0,5],[6,9]]` -> `[[0,9]]`, sorted. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0])
  const out: Array<[number, number]> = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1])
    else out.push([r[0], r[1]])
  }
  return out
}
