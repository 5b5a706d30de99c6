import type { SlotRange } from './types'

/** `INFO` as a flat map (`used_memory` -> `"1234"`); section headers and blank lines dropped. */
export type InfoFields = Record<string, string>

export function parseInfo(text: string): InfoFields {
  const fields: InfoFields = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

/** A finite number from an INFO field, or null when absent or not numeric. */
export function infoNumber(fields: InfoFields | null, name: string): number | null {
  const raw = fields?.[name]
  if (raw === undefined || raw === '') return null
  const n = Number(raw)
  return Number.isFinite(n) ? n : null
}

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeEntry {
  id: string
  /** The announced IP (or hostname when no IP is announced). */
  host: string
  port: number
  /** `host:port` */
  addr: string
  /** Redis 7 `cluster-announce-hostname`, when set. */
  hostname: string | null
  flags: string[]
  role: 'primary' | 'replica' | 'unknown'
  myself: boolean
  /** `fail` or `pfail` flagged, or the link is down. */
  failing: boolean
  /** The primary's id for a replica; null for a primary. */
  primaryId: string | null
  linkState: 'connected' | 'disconnected'
  slots: SlotRange[]
}

/**
 * Parses `CLUSTER NODES`:
 * `<id> <ip:port@cport[,hostname]> <flags> <primary|-> <ping> <pong> <epoch> <link> <slot>...`.
 * Nodes without an address yet (`noaddr`, `handshake`) are dropped: nothing can connect to them.
 */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  const nodes: ClusterNodeEntry[] = []
  for (const raw of text.split('\n')) {
    const parts = raw.trim().split(' ')
    const [id, address, flagText, primary, , , , link] = parts
    if (id === undefined || address === undefined || flagText === undefined || link === undefined) continue
    const flags = flagText.split(',')
    if (flags.includes('noaddr') || flags.includes('handshake')) continue
    const [endpoint = '', hostname] = address.split(',')
    const hostPort = endpoint.split('@')[0] ?? ''
    const colon = hostPort.lastIndexOf(':')
    const host = hostPort.slice(0, colon)
    const port = Number(hostPort.slice(colon + 1))
    if (colon < 0 || host === '' || !Number.isInteger(port) || port <= 0) continue
    const linkState = link === 'connected' ? 'connected' : 'disconnected'
    nodes.push({
      id,
      host,
      port,
      addr: formatAddr(host, port),
      hostname: hostname !== undefined && hostname !== '' ? hostname : null,
      flags,
      role: flags.includes('master') ? 'primary' : flags.includes('slave') ? 'replica' : 'unknown',
      myself: flags.includes('myself'),
      failing: flags.includes('fail') || flags.includes('fail?') || linkState === 'disconnected',
      primaryId: primary !== undefined && primary !== '-' ? primary : null,
      linkState,
      slots: parseSlots(parts.slice(8)),
    })
  }
  return nodes
}

function parseSlots(tokens: string[]): SlotRange[] {
  const ranges: SlotRange[] = []
  for (const token of tokens) {
    // `[slot->-id]` / `[slot-<-id]` are migrating/importing markers, not ownership.
    if (token === '' || token.startsWith('[')) continue
    const [start, end = start] = token.split('-')
    const a = Number(start)
    const b = Number(end)
    if (Number.isInteger(a) && Number.isInteger(b)) ranges.push([a, b])
  }
  return ranges
}

export function countSlots(ranges: SlotRange[]): number {
  let count = 0
  for (const [start, end] of ranges) count += end - start + 1
  return count
}

/** A replica as its primary's INFO lists it: `slave0:ip=...,port=...,state=online,offset=...,lag=...`. */
export interface ReplicaLine {
  host: string
  port: number
  state: string
  offset: number | null
}

export function parseReplicaLines(fields: InfoFields): ReplicaLine[] {
  const replicas: ReplicaLine[] = []
  for (const [name, value] of Object.entries(fields)) {
    if (!/^slave\d+$/.test(name)) continue
    const props = new Map<string, string>()
    for (const pair of value.split(',')) {
      const eq = pair.indexOf('=')
      if (eq > 0) props.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    const host = props.get('ip')
    const port = Number(props.get('port'))
    if (host === undefined || !Number.isInteger(port)) continue
    const offset = Number(props.get('offset'))
    replicas.push({
      host,
      port,
      state: props.get('state') ?? 'unknown',
      offset: Number.isFinite(offset) ? offset : null,
    })
  }
  return replicas
}

/** `host:port`, with IPv6 hosts bracketed. */
export function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
