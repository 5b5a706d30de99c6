/**
 * @Cacheable replaces a controller method with a wrapper; Nest's router, guards and
 * @nestjs/swagger all read Reflect metadata from that function. The wrapper must carry it,
 * whichever side of @Cacheable the other decorators sit on.
 */
import 'reflect-metadata'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  Module,
  Param,
  RequestMethod,
  UseGuards,
} from '@nestjs/common'
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants'
import { ApiOperation, ApiResponse, DocumentBuilder, SwaggerModule } from '@nestjs/swagger'
import { Test } from '@nestjs/testing'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cacheable, HerdlessModule } from '../src'

const API_OPERATION = 'swagger/apiOperation'

@Injectable()
class HeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return (
      context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-allow'] === 'yes'
    )
  }
}

@Controller('items')
class ItemsController {
  calls = { below: 0, above: 0 }

  // Route, guard and Swagger decorators above @Cacheable: applied to the wrapper.
  @Get('below/:id')
  @UseGuards(HeaderGuard)
  @ApiOperation({ summary: 'Item, decorators above @Cacheable' })
  @ApiResponse({ status: 200, description: 'The item' })
  @Cacheable({ key: (id: string) => `item-below:${id}` })
  async below(@Param('id') id: string): Promise<{ id: string; n: number }> {
    this.calls.below++
    return { id, n: this.calls.below }
  }

  // ... and below it: applied to the original first, so the wrapper must copy them.
  @Cacheable({ key: (id: string) => `item-above:${id}` })
  @Get('above/:id')
  @UseGuards(HeaderGuard)
  @ApiOperation({ summary: 'Item, decorators below @Cacheable' })
  @ApiResponse({ status: 200, description: 'The item' })
  async above(@Param('id') id: string): Promise<{ id: string; n: number }> {
    this.calls.above++
    return { id, n: this.calls.above }
  }
}

@Module({
  imports: [HerdlessModule.forRoot({ redis: sharedRedis().url, prefix: uniquePrefix(), redisTimeout: '2s' })],
  controllers: [ItemsController],
  providers: [HeaderGuard],
})
class ItemsModule {}

describe('@Cacheable on a controller keeps its metadata', () => {
  let app: INestApplication

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ItemsModule] }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.init()
  })
  afterAll(async () => {
    await app.close()
  })

  for (const side of ['below', 'above'] as const) {
    it(`keeps route, guards and Swagger metadata with the other decorators ${side === 'below' ? 'above' : 'below'} it`, () => {
      const method = ItemsController.prototype[side]
      expect(method.name).toBe(side)
      expect(Reflect.getMetadata(PATH_METADATA, method)).toBe(`${side}/:id`)
      expect(Reflect.getMetadata(METHOD_METADATA, method)).toBe(RequestMethod.GET)
      expect(Reflect.getMetadata(GUARDS_METADATA, method)).toEqual([HeaderGuard])
      expect(Reflect.getMetadata(API_OPERATION, method)).toMatchObject({
        summary: expect.stringContaining('Item'),
      })
    })

    it(`${side}: the route answers, the guard guards, the method runs once`, async () => {
      const server = app.getHttpServer()
      await request(server).get(`/items/${side}/1`).expect(403)
      const first = await request(server).get(`/items/${side}/1`).set('x-allow', 'yes').expect(200)
      const second = await request(server).get(`/items/${side}/1`).set('x-allow', 'yes').expect(200)
      expect(first.body).toEqual({ id: '1', n: 1 })
      expect(second.body).toEqual({ id: '1', n: 1 })
      expect(app.get(ItemsController).calls[side]).toBe(1)
    })
  }

  it('Swagger documents both operations', () => {
    const document = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('t').build())
    expect(document.paths['/items/below/{id}']?.get?.summary).toBe('Item, decorators above @Cacheable')
    expect(document.paths['/items/above/{id}']?.get?.summary).toBe('Item, decorators below @Cacheable')
    expect(document.paths['/items/above/{id}']?.get?.responses?.['200']).toMatchObject({
      description: 'The item',
    })
  })
})
