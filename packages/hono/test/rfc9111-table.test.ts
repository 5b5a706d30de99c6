import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { runTable } from '../../core/test/http-table/table'
import { cacheResponses } from '../src'

runTable('Hono', async ({ cache, route, respond }) => {
  const app = new Hono()
  app.get('/t', cacheResponses({ cache, app, ...route }), (c) => {
    const headers: Record<string, string> = {}
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value
    })
    const r = respond({ headers })
    const res = c.body(r.body, r.status as 200)
    for (const [name, value] of Object.entries(r.headers)) res.headers.append(name, value)
    return res
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
})
