import { createHmac, timingSafeEqual } from 'node:crypto'
import { pack, unpack } from '../entry/envelope'

export type BusMessageType = 'set' | 'del' | 'exp' | 'tags' | 'clear' | 'pattern'
const TYPES = new Set<string>(['set', 'del', 'exp', 'tags', 'clear', 'pattern'])
export const BUS_VERSION = 1
const MAX_KEYS = 10_000

/** One invalidation: which keys (entry keys, tag keys or patterns) changed, by whom, when. */
export interface BusMessage {
  sender: string
  type: BusMessageType
  keys: string[]
  /** Sender's clock (ms): replay window for signed messages, invalidation time for tags. */
  time: number
}

/**
 * Wire format: msgpack [body, signature?] where body is msgpack [version, sender, type, keys, time].
 * The HMAC covers the body bytes exactly as sent.
 */
export function encodeBusMessage(msg: BusMessage, signingKey: Buffer | undefined): Buffer {
  const body = pack([BUS_VERSION, msg.sender, msg.type, msg.keys, msg.time])
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
  if (!Array.isArray(fields) || fields.length !== 5) return { ok: false, reason: 'malformed' }
  const [version, sender, type, keys, time] = fields as unknown[]
  if (version !== BUS_VERSION) return { ok: false, reason: 'version' }
  if (typeof sender !== 'string' || typeof type !== 'string' || !TYPES.has(type))
    return { ok: false, reason: 'malformed' }
  if (!Array.isArray(keys) || keys.length > MAX_KEYS || !keys.every((k) => typeof k === 'string')) {
    return { ok: false, reason: 'malformed' }
  }
  if (typeof time !== 'number' || !Number.isFinite(time)) return { ok: false, reason: 'malformed' }
  if (verifyKeys.length > 0 && Math.abs(now - time) > maxAge) return { ok: false, reason: 'replayed' }
  return { ok: true, message: { sender, type: type as BusMessageType, keys: keys as string[], time } }
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array
}
