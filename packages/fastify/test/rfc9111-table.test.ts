import herdless from '@herdless/fastify'
import Fastify from 'fastify'
import { runTable } from '../../core/test/http-table/table'

runTable('Fastify', async ({ cache, route, respond }) => {
  const app = Fastify()
  await app.register(herdless, { cache })
  app.route({
    method: ['GET', 'POST'],
    url: '/t',
    config: { cache: route },
    handler: async (request, reply) => {
      const r = await respond({ method: request.method, headers: request.headers as Record<string, string> })
      reply.code(r.status).headers(r.headers)
      return r.body
    },
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return { base, http: app.server, close: () => app.close() }
})
