/**
 * HttpCacheInterceptor on both Nest platforms (Express and Fastify), on real Redis: the same
 * response-caching semantics as @herdless/express and @herdless/fastify, from core's http/.
 */
import 'reflect-metadata'
import type { ResponseCache } from '@herdless/core'
import { sharedRedis, sleep, uniquePrefix } from '@herdless/test-utils'
import {
  Controller,
  Get,
  Header,
  type INestApplication,
  Module,
  NotFoundException,
  Param,
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

  @Get('json/:id')
  async json(@Param('id') id: string): Promise<{ id: string; n: number }> {
    return { id, n: this.#count(`json:${id}`) }
  }

  @Get('text/:id')
  async text(@Param('id') id: string): Promise<string> {
    return `text ${id} #${this.#count(`text:${id}`)}`
  }

  @Get('cookie/:id')
  @Header('Set-Cookie', 'session=abc')
  async cookie(@Param('id') id: string): Promise<{ n: number }> {
    return { n: this.#count(`cookie:${id}`) }
  }

  @Get('missing/:id')
  async missing(@Param('id') id: string): Promise<never> {
    this.#count(`missing:${id}`)
    throw new NotFoundException(`no ${id}`)
  }

  @Get('short/:id')
  @HttpCache({ ttl: 200, staleTtl: '1m', jitter: 0, tags: ['short'] })
  async short(@Param('id') id: string): Promise<{ n: number }> {
    // Long enough that the three concurrent STALE requests all arrive during the refresh.
    await sleep(100)
    return { n: this.#count(`short:${id}`) }
  }

  @Get('slow/:id')
  async slow(@Param('id') id: string): Promise<{ n: number }> {
    await sleep(50)
    return { n: this.#count(`slow:${id}`) }
  }

  @Get('ttl/:id')
  @CacheTTL('1m')
  @Header('Cache-Control', 'public, max-age=60')
  async ttl(@Param('id') id: string): Promise<{ n: number }> {
    return { n: this.#count(`ttl:${id}`) }
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

    it('MISS, then HIT with the same body, content type, ETag and an Age', async () => {
      const miss = await get('/r/json/1')
      const hit = await get('/r/json/1')
      expect(miss.status).toBe(200)
      expect(miss.headers.get('x-cache')).toBe('MISS')
      expect(hit.headers.get('x-cache')).toBe('HIT')
      expect(JSON.parse(hit.text)).toEqual({ id: '1', n: 1 })
      expect(hit.text).toBe(miss.text)
      expect(hit.headers.get('content-type')).toMatch(/^application\/json/)
      expect(hit.headers.get('etag')).toBeTruthy()
      expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'))
      expect(hit.headers.get('age')).toMatch(/^\d+$/)
      expect(controller.calls.get('json:1')).toBe(1)
    })

    it('answers If-None-Match with 304 and no body', async () => {
      const first = await get('/r/json/2')
      const etag = first.headers.get('etag') ?? ''
      const cond = await get('/r/json/2', { headers: { 'if-none-match': etag } })
      expect(cond.status).toBe(304)
      expect(cond.text).toBe('')
      expect(cond.headers.get('x-cache')).toBe('HIT')
      expect(controller.calls.get('json:2')).toBe(1)
    })

    it('serves HEAD from the GET entry', async () => {
      await get('/r/json/3')
      const head = await get('/r/json/3', { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.text).toBe('')
      expect(head.headers.get('x-cache')).toBe('HIT')
      expect(controller.calls.get('json:3')).toBe(1)
    })

    it('caches strings with the content type the platform would send', async () => {
      const miss = await get('/r/text/1')
      const hit = await get('/r/text/1')
      expect(hit.text).toBe('text 1 #1')
      expect(hit.headers.get('x-cache')).toBe('HIT')
      expect(hit.headers.get('content-type')).toBe(miss.headers.get('content-type'))
      expect(controller.calls.get('text:1')).toBe(1)
    })

    it('BYPASS for Authorization and @NoCache; responses with Set-Cookie are not stored', async () => {
      for (let i = 0; i < 2; i++) {
        const auth = await get('/r/json/4', { headers: { authorization: 'Bearer x' } })
        expect(auth.headers.get('x-cache')).toBe('BYPASS')
        expect((await get('/r/never/4')).headers.get('x-cache')).toBe('BYPASS')
        const cookie = await get('/r/cookie/4')
        expect(cookie.headers.get('x-cache')).toBe('MISS')
        expect(cookie.headers.get('set-cookie')).toContain('session=abc')
      }
      expect(controller.calls.get('json:4')).toBe(2)
      expect(controller.calls.get('never:4')).toBe(2)
      expect(controller.calls.get('cookie:4')).toBe(2)
    })

    it('lets exceptions through to Nest, uncached', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await get('/r/missing/5')
        expect(r.status).toBe(404)
        expect(JSON.parse(r.text)).toMatchObject({ statusCode: 404, message: 'no 5' })
      }
      expect(controller.calls.get('missing:5')).toBe(2)
    })

    it('serves STALE while one request refreshes, then the new response', async () => {
      expect(JSON.parse((await get('/r/short/6')).text)).toEqual({ n: 1 })
      await sleep(300)
      const stale = await Promise.all([get('/r/short/6'), get('/r/short/6'), get('/r/short/6')])
      expect(stale.map((r) => r.headers.get('x-cache'))).toEqual(['STALE', 'STALE', 'STALE'])
      expect(stale.map((r) => JSON.parse(r.text))).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }])
      // One background refresh for the three.
      for (let i = 0; i < 50 && controller.calls.get('short:6') !== 2; i++) await sleep(20)
      await sleep(50)
      const fresh = await get('/r/short/6')
      expect(fresh.headers.get('x-cache')).toBe('HIT')
      expect(JSON.parse(fresh.text)).toEqual({ n: 2 })
      expect(controller.calls.get('short:6')).toBe(2)
    })

    it('keeps stored headers (Cache-Control) and invalidates by path and by tag', async () => {
      await get('/r/ttl/7')
      const hit = await get('/r/ttl/7')
      expect(hit.headers.get('x-cache')).toBe('HIT')
      expect(hit.headers.get('cache-control')).toBe('public, max-age=60')
      await controller.responses.invalidate({ paths: '/r/ttl/7' })
      expect((await get('/r/ttl/7')).headers.get('x-cache')).toBe('MISS')
      expect(controller.calls.get('ttl:7')).toBe(2)

      await get('/r/short/8')
      await controller.responses.invalidate({ tags: 'short' })
      expect((await get('/r/short/8')).headers.get('x-cache')).toBe('MISS')
      expect(controller.calls.get('short:8')).toBe(2)
    })

    it('runs the handler once for 50 concurrent cold requests', async () => {
      const replies = await Promise.all(Array.from({ length: 50 }, () => get('/r/slow/9')))
      expect(new Set(replies.map((r) => r.text))).toEqual(new Set(['{"n":1}']))
      expect(
        replies.every((r) => r.headers.get('x-cache') === 'MISS' || r.headers.get('x-cache') === 'HIT'),
      ).toBe(true)
      expect(controller.calls.get('slow:9')).toBe(1)
    })
  })
}
