import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { runTable } from '../../core/test/http-table/table'
import { cacheResponses } from '../src'

runTable('Hono', async ({ cache, route, respond }) => {
  const app = new Hono()
  app.onError((_error, c) => c.text('Internal Server Error', 500)) // quiet: the table throws on purpose
  const handler = async (c: Context) => {
    const headers: Record<string, string> = {}
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value
    })
    const r = await respond({ method: c.req.method, headers })
    const res = c.body(r.body, r.status as 200)
    for (const [name, value] of Object.entries(r.headers)) res.headers.append(name, value)
    return res
  }
  const mw = cacheResponses({ cache, app, ...route })
  app.get('/t', mw, handler)
  app.post('/t', mw, handler)
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    http: server as Server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
})
