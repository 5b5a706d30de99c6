import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cacheResponses } from '@herdless/express'
import express from 'express'
import { runTable } from '../../core/test/http-table/table'

runTable('Express', async ({ cache, route, respond }) => {
  const app = express()
  app.get('/t', cacheResponses({ cache, ...route }), (req, res) => {
    const r = respond({ headers: req.headers as Record<string, string> })
    res.status(r.status)
    for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value)
    res.send(r.body)
  })
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
})
