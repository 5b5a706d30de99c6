/**
 * HttpCacheInterceptor on both Nest platforms (Express and Fastify), on real Redis: what only
 * Nest has (@NoCache, exceptions to Nest's filters, the injected ResponseCache). The HTTP
 * behaviours every adapter owes (MISS/HIT, HEAD, 304, bypass rules, route options,
 * invalidation, stale handling, coalescing) are in the shared table: rfc9111-table.test.ts.
 */
import 'reflect-metadata'
import type { ResponseCache } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  Header,
  type INestApplication,
  Module,
  NotFoundException,
  Param,
  Req,
  Res,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CacheTTL,
  HerdlessModule,
  HttpCache,
  HttpCacheInterceptor,
  InjectResponseCache,
  NoCache,
} from '../src'

/** The methods of the requests that reached the guards (clients' and refresh runs). */
const guarded: string[] = []
class RecordingGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    guarded.push(context.switchToHttp().getRequest<{ method: string }>().method)
    return true
  }
}

@Controller('r')
@UseInterceptors(HttpCacheInterceptor)
class RoutesController {
  readonly calls = new Map<string, number>()

  constructor(@InjectResponseCache() readonly responses: ResponseCache) {}

  #count(name: string): number {
    const n = (this.calls.get(name) ?? 0) + 1
    this.calls.set(name, n)
    return n
  }

  @Get('missing/:id')
  async missing(@Param('id') id: string): Promise<never> {
    this.#count(`missing:${id}`)
    throw new NotFoundException(`no ${id}`)
  }

  @Get('short/:id')
  @HttpCache({ ttl: '1m', jitter: 0, tags: ['short'] })
  async short(@Param('id') id: string): Promise<{ n: number }> {
    return { n: this.#count(`short:${id}`) }
  }

  @Get('ttl/:id')
  @CacheTTL('1m')
  @Header('Cache-Control', 'public, max-age=60')
  async ttl(@Param('id') id: string): Promise<{ n: number }> {
    return { n: this.#count(`ttl:${id}`) }
  }

  @Get('refreshed/:id')
  @UseGuards(RecordingGuard)
  @HttpCache({ ttl: '1m' })
  async refreshed(
    @Param('id') id: string,
    @Req() req: { method: string },
    @Res({ passthrough: true }) res: { header(name: string, value: string): unknown },
  ): Promise<string> {
    const n = this.#count(`refreshed:${id}`)
    // A header the cache stores (Link), set by this run: what a refresh run sets is stored too.
    res.header('link', `</runs/${n}/${req.method}>; rel="related"`)
    return 'body'
  }

  @Get('never/:id')
  @NoCache()
  async never(@Param('id') id: string): Promise<{ n: number }> {
    return { n: this.#count(`never:${id}`) }
  }
}

interface Reply {
  status: number
  headers: Headers
  text: string
}

for (const platform of ['express', 'fastify'] as const) {
  describe(`HttpCacheInterceptor on platform-${platform}`, () => {
    let app: INestApplication
    let base: string
    let controller: RoutesController

    const get = async (path: string, init: RequestInit = {}): Promise<Reply> => {
      const res = await fetch(`${base}${path}`, init)
      return { status: res.status, headers: res.headers, text: await res.text() }
    }

    beforeAll(async () => {
      @Module({
        imports: [
          HerdlessModule.forRoot({ redis: sharedRedis().url, prefix: uniquePrefix(), redisTimeout: '2s' }),
        ],
        controllers: [RoutesController],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile()
      app =
        platform === 'express'
          ? moduleRef.createNestApplication({ logger: false })
          : moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      await app.listen(0, '127.0.0.1')
      base = (await app.getUrl()).replace('[::1]', '127.0.0.1')
      controller = app.get(RoutesController)
    })
    afterAll(async () => {
      await app?.close()
    })

    it('@NoCache routes BYPASS, every request runs the handler', async () => {
      for (let i = 0; i < 2; i++) {
        expect((await get('/r/never/4')).headers.get('x-cache')).toBe('BYPASS')
      }
      expect(controller.calls.get('never:4')).toBe(2)
    })

    it('lets exceptions through to Nest, uncached', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await get('/r/missing/5')
        expect(r.status).toBe(404)
        expect(JSON.parse(r.text)).toMatchObject({ statusCode: 404, message: 'no 5' })
      }
      expect(controller.calls.get('missing:5')).toBe(2)
    })

    it('a cold HEAD is filled by a GET copy through the app (guards run), storing what the handler set', async () => {
      guarded.length = 0
      const head = await get('/r/refreshed/9', { method: 'HEAD' })
      expect(head.headers.get('x-cache')).toBe('MISS')
      expect(head.headers.get('link')).toBe('</runs/1/GET>; rel="related"')
      expect(guarded).toEqual(['HEAD', 'GET'])
      const hit = await get('/r/refreshed/9')
      expect([hit.headers.get('x-cache'), hit.headers.get('link'), hit.text]).toEqual([
        'HIT',
        '</runs/1/GET>; rel="related"',
        'body',
      ])
      expect(controller.calls.get('refreshed:9')).toBe(1)
    })

    it('the injected ResponseCache invalidates by path and by tag', async () => {
      await get('/r/ttl/7')
      const hit = await get('/r/ttl/7')
      expect(hit.headers.get('x-cache')).toBe('HIT')
      await controller.responses.invalidate({ paths: '/r/ttl/7' })
      expect((await get('/r/ttl/7')).headers.get('x-cache')).toBe('MISS')
      expect(controller.calls.get('ttl:7')).toBe(2)

      await get('/r/short/8')
      await controller.responses.invalidate({ tags: 'short' })
      expect((await get('/r/short/8')).headers.get('x-cache')).toBe('MISS')
      expect(controller.calls.get('short:8')).toBe(2)
    })
  })
}
