/**
 * The shared RFC 9111 table on Nest, platform-express and platform-fastify, with no known
 * deviation. The route's response headers are static per case (@Header), as Nest routes
 * usually declare them; the status is set by the handler (res.status). Refresh runs are GET
 * copies dispatched through the Express app or Fastify's inject.
 */
import 'reflect-metadata'
import { Controller, Get, Header, Headers, Module, Post, Req, Res, UseInterceptors } from '@nestjs/common'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { Test } from '@nestjs/testing'
import { runTable, type StartOptions } from '../../core/test/http-table/table'
import { HerdlessModule, HttpCache, HttpCacheInterceptor } from '../src'

async function start(platform: 'express' | 'fastify', o: StartOptions) {
  class TableController {
    async t(
      headers: Record<string, string>,
      res: { status(code: number): unknown },
      req: { method: string },
    ): Promise<string> {
      const r = await o.respond({ method: req.method, headers })
      res.status(r.status) // a @Post route answers 201 unless told
      return r.body
    }
    p(headers: Record<string, string>, res: { status(code: number): unknown }, req: { method: string }) {
      return this.t(headers, res, req)
    }
  }
  for (const [method, route] of [
    ['t', Get('t')],
    ['p', Post('t')],
  ] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(
      TableController.prototype,
      method,
    ) as PropertyDescriptor
    const decorators: MethodDecorator[] = [route, HttpCache(o.route)]
    for (const [name, value] of Object.entries(o.headers)) decorators.push(Header(name, value))
    Reflect.decorate(decorators, TableController.prototype, method, descriptor)
    Headers()(TableController.prototype, method, 0)
    Res({ passthrough: true })(TableController.prototype, method, 1)
    Req()(TableController.prototype, method, 2)
  }
  Controller()(TableController)
  UseInterceptors(HttpCacheInterceptor)(TableController)

  @Module({ imports: [HerdlessModule.forRoot({ cache: o.cache })], controllers: [TableController] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile()
  const app =
    platform === 'express'
      ? moduleRef.createNestApplication({ logger: false })
      : moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
  await app.listen(0, '127.0.0.1')
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1')
  return { base, http: app.getHttpServer(), close: () => app.close() }
}

runTable('Nest (platform-express)', (o) => start('express', o))
runTable('Nest (platform-fastify)', (o) => start('fastify', o))
