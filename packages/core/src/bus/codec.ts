import { createHmac, timingSafeEqual } from 'node:crypto'
import { pack, unpack } from '../entry/envelope'

export type BusMessageType = 'set' | 'del' | 'exp' | 'tags' | 'clear' | 'pattern'
/** Bus health: 'hb' a heartbeat, 'bye' a sender leaving (closed) so peers stop expecting it. */
export type BusControlType = 'hb' | 'bye'
const TYPES = new Set<string>(['set', 'del', 'exp', 'tags', 'clear', 'pattern', 'hb', 'bye'])
export const BUS_VERSION = 1
const MAX_KEYS = 10_000

/** One invalidation: which keys (entry keys, tag keys or patterns) changed, by whom, when. */
export interface BusMessage {
  sender: string
  type: BusMessageType | BusControlType
  keys: string[]
  /** Sender's clock (ms): replay window for signed messages, invalidation time for tags. */
  time: number
  /**
   * The sender's sequence number on the channel it was published to (1, 2, ...; heartbeats
   * included): a receiver that sees a jump knows it missed a message. Absent from senders that
   * predate it.
   */
  seq?: number
}

/**
 * Wire format: msgpack [body, signature?] where body is msgpack [version, sender, type, keys, time, seq?].
 * The HMAC covers the body bytes exactly as sent.
 */
export function encodeBusMessage(msg: BusMessage, signingKey: Buffer | undefined): Buffer {
  const fields: unknown[] = [BUS_VERSION, msg.sender, msg.type, msg.keys, msg.time]
  if (msg.seq !== undefined) fields.push(msg.seq)
  const body = pack(fields)
  if (signingKey === undefined) return pack([body])
  return pack([body, createHmac('sha256', signingKey).update(body).digest()])
}

export type DecodeResult = { ok: true; message: BusMessage } | { ok: false; reason: string }

/** Never throws: anything malformed, unsigned (when keys are set), forged or replayed is a reason. */
export function decodeBusMessage(
  raw: Buffer,
  verifyKeys: readonly Buffer[],
  maxAge: number,
  now = Date.now(),
): DecodeResult {
  let outer: unknown
  try {
    outer = unpack(raw)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (!Array.isArray(outer) || outer.length < 1 || outer.length > 2 || !isBytes(outer[0])) {
    return { ok: false, reason: 'malformed' }
  }
  const body = Buffer.from(outer[0])
  if (verifyKeys.length > 0) {
    const sig = outer[1]
    if (!isBytes(sig)) return { ok: false, reason: 'unsigned' }
    const given = Buffer.from(sig)
    const good = verifyKeys.some((k) => {
      const want = createHmac('sha256', k).update(body).digest()
      return want.length === given.length && timingSafeEqual(want, given)
    })
    if (!good) return { ok: false, reason: 'bad-signature' }
  }
  let fields: unknown
  try {
    fields = unpack(body)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (!Array.isArray(fields) || fields.length < 5 || fields.length > 6)
    return { ok: false, reason: 'malformed' }
  const [version, sender, type, keys, time, seq] = fields as unknown[]
  if (version !== BUS_VERSION) return { ok: false, reason: 'version' }
  if (typeof sender !== 'string' || typeof type !== 'string' || !TYPES.has(type))
    return { ok: false, reason: 'malformed' }
  if (!Array.isArray(keys) || keys.length > MAX_KEYS || !keys.every((k) => typeof k === 'string')) {
    return { ok: false, reason: 'malformed' }
  }
  if (typeof time !== 'number' || !Number.isFinite(time)) return { ok: false, reason: 'malformed' }
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1))
    return { ok: false, reason: 'malformed' }
  if (verifyKeys.length > 0 && Math.abs(now - time) > maxAge) return { ok: false, reason: 'replayed' }
  const message: BusMessage = { sender, type: type as BusMessage['type'], keys: keys as string[], time }
  if (seq !== undefined) message.seq = seq
  return { ok: true, message }
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array
}
