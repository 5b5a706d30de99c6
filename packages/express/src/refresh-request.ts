import type { Socket } from 'node:net'
import type { Dispatch, RefreshSource } from '@herdless/core/http/node'
import type { Request } from 'express'

/** The top-level Express app (mounted sub-apps know their parent), to dispatch a copy through. */
function rootDispatch(req: Request): Dispatch | undefined {
  let app: unknown = req.app
  for (let i = 0; i < 32; i++) {
    const parent = (app as { parent?: unknown } | undefined)?.parent
    if (typeof parent !== 'function') break
    app = parent
  }
  if (typeof app !== 'function' || typeof (app as { handle?: unknown }).handle !== 'function')
    return undefined
  return app as Dispatch
}

export function refreshSource(req: Request): RefreshSource {
  const socket = req.socket as (Socket & { encrypted?: boolean }) | undefined
  return {
    dispatch: rootDispatch(req),
    url: req.originalUrl,
    headers: req.headers,
    remoteAddress: socket?.remoteAddress,
    encrypted: socket?.encrypted === true,
  }
}
