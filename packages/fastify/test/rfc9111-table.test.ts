import herdless from '@herdless/fastify'
import Fastify from 'fastify'
import { runTable } from '../../core/test/http-table/table'

runTable('Fastify', async ({ cache, route, respond }) => {
  const app = Fastify()
  await app.register(herdless, { cache })
  app.get('/t', { config: { cache: route } }, async (request, reply) => {
    const r = respond({ headers: request.headers as Record<string, string> })
    reply.code(r.status).headers(r.headers)
    return r.body
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return { base, close: () => app.close() }
})
