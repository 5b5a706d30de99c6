/** One line of `CLUSTER NODES`, as seen by one node. */
export interface ClusterNodesEntry {
  id: string
  host: string
  port: number
  flags: string[]
  /** Primary's id for a replica; null for a primary. */
  primaryId: string | null
  linkState: string
  /** Owned slot ranges, inclusive. */
  slots: [number, number][]
  /** `[slot->-id]` / `[slot-<-id]` entries: a migration is open on this node. */
  openSlots: string[]
}

export function parseClusterNodes(text: string): ClusterNodesEntry[] {
  const entries: ClusterNodesEntry[] = []
  for (const line of text.split('\n')) {
    const parts = line.trim().split(' ')
    if (parts.length < 8) continue
    const [id = '', address = '', flags = '', primary = '-'] = parts
    // ip:port@cport[,hostname]
    const hostPort = address.split('@')[0] ?? ''
    const colon = hostPort.lastIndexOf(':')
    const slots: [number, number][] = []
    const openSlots: string[] = []
    for (const token of parts.slice(8)) {
      if (token.startsWith('[')) {
        openSlots.push(token)
        continue
      }
      const [start, end] = token.split('-')
      const first = Number(start)
      slots.push([first, end === undefined ? first : Number(end)])
    }
    entries.push({
      id,
      host: hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1)),
      flags: flags.split(','),
      primaryId: primary === '-' ? null : primary,
      linkState: parts[7] ?? '',
      slots,
      openSlots,
    })
  }
  return entries
}

export function isPrimaryEntry(entry: ClusterNodesEntry): boolean {
  return entry.flags.includes('master')
}

export function isFailing(entry: ClusterNodesEntry): boolean {
  return entry.flags.includes('fail') || entry.flags.includes('fail?')
}

export function countSlots(ranges: readonly [number, number][]): number {
  let n = 0
  for (const [start, end] of ranges) n += end - start + 1
  return n
}

export function expandSlots(ranges: readonly [number, number][]): number[] {
  const out: number[] = []
  for (const [start, end] of ranges) for (let s = start; s <= end; s++) out.push(s)
  return out
}
