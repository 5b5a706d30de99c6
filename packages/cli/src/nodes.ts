import { type ClusterNodeLine, infoNumber, parseClusterNodes, parseInfo } from '@herdless/core/tools'
import type { SlotRange } from './types'

/**
 * What the CLI reads from Redis replies, on top of core's parsers (`@herdless/core/tools`): the
 * topology monitor and the CLI share one reading of INFO and CLUSTER NODES, and one meaning of a
 * failing node (`failed`: flagged `fail`, agreed by a majority of primaries; `fail?` is only
 * `suspected` by the node asked).
 */

/** `INFO` / `CLUSTER INFO` fields, as core's parseInfo returns them. */
export type InfoFields = Map<string, string>

export { parseInfo }

/** A numeric INFO field, or null when the server did not report it (core's infoNumber says 0). */
export function infoValue(fields: InfoFields | null, name: string): number | null {
  if (fields === null || !fields.has(name)) return null
  const raw = fields.get(name)
  return raw === undefined || raw.trim() === '' || !Number.isFinite(Number(raw))
    ? null
    : infoNumber(fields, name)
}

/** One CLUSTER NODES line (core's ClusterNodeLine) with its address split for connecting. */
export interface ClusterNodeEntry extends ClusterNodeLine {
  host: string
  port: number
  /** `host:port`, IPv6 hosts bracketed. */
  addr: string
  /** The line the seed marked `myself`. */
  myself: boolean
  slots: SlotRange[]
}

export function readClusterNodeEntries(text: string): ClusterNodeEntry[] {
  const entries: ClusterNodeEntry[] = []
  for (const line of parseClusterNodes(text)) {
    const colon = line.address.lastIndexOf(':')
    const host = line.address.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
    const port = Number(line.address.slice(colon + 1))
    if (colon <= 0 || !Number.isInteger(port) || port <= 0) continue
    entries.push({ ...line, host, port, addr: formatAddr(host, port), myself: line.flags.includes('myself') })
  }
  return entries
}

/** A replica as its primary's INFO lists it: `slave0:ip=...,port=...,state=online,offset=...,lag=...`. */
export interface ReplicaLine {
  host: string
  port: number
  state: string
  offset: number | null
}

/** The `slaveN` fields of a standalone primary's INFO replication (core's monitor does not read them). */
export function parseReplicaLines(fields: InfoFields): ReplicaLine[] {
  const replicas: ReplicaLine[] = []
  for (const [name, value] of fields) {
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
