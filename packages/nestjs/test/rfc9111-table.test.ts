/**
 * The shared RFC 9111 table on Nest, platform-express and platform-fastify. The route's
 * response headers are static per case (@Header), as Nest routes usually declare them; that is
 * also what a background refresh (no live response object) stores.
 */
import 'reflect-metadata'
import { Controller, Get, Header, Headers, Module, Res, UseInterceptors } from '@nestjs/common'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { Test } from '@nestjs/testing'
import { runTable, type StartOptions } from '../../core/test/http-table/table'
import { HerdlessModule, HttpCache, HttpCacheInterceptor } from '../src'

async function start(platform: 'express' | 'fastify', o: StartOptions) {
  class TableController {
    t(headers: Record<string, string>, res: { status(code: number): unknown }): string {
      const r = o.respond({ headers })
      if (r.status !== 200) res.status(r.status)
      return r.body
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(TableController.prototype, 't') as PropertyDescriptor
  const decorators: MethodDecorator[] = [Get('t'), HttpCache(o.route)]
  for (const [name, value] of Object.entries(o.headers)) decorators.push(Header(name, value))
  Reflect.decorate(decorators, TableController.prototype, 't', descriptor)
  Headers()(TableController.prototype, 't', 0)
  Res({ passthrough: true })(TableController.prototype, 't', 1)
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
  return { base, close: () => app.close() }
}

runTable('Nest (platform-express)', (o) => start('express', o))
runTable('Nest (platform-fastify)', (o) => start('fastify', o))
