import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cacheResponses } from '@herdless/express'
import express5 from 'express'
import express4 from 'express4'
import { runTable, type StartOptions } from '../../core/test/http-table/table'
import type { ExpressFactory } from './helpers'

function starter(express: ExpressFactory) {
  return async ({ cache, route, respond }: StartOptions) => {
    const app = express()
    app.set('env', 'test') // the default error handler stays quiet
    const handler = async (req: express5.Request, res: express5.Response, next: express5.NextFunction) => {
      try {
        const r = await respond({ method: req.method, headers: req.headers as Record<string, string> })
        res.status(r.status)
        for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value)
        res.send(r.body)
      } catch (error) {
        next(error) // Express 4 does not catch a rejected handler
      }
    }
    const mw = cacheResponses({ cache, ...route })
    app.get('/t', mw, handler)
    app.post('/t', mw, handler)
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      http: server,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
  }
}

runTable('Express 5', starter(express5))
runTable('Express 4', starter(express4 as ExpressFactory))
