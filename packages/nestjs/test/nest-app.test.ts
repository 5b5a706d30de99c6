/**
 * A Nest application on real Redis, built the way an app is: HerdlessModule.forRootAsync with a
 * ConfigService factory, @Cacheable / @CacheInvalidate on a service that is injected by type
 * (emitDecoratorMetadata), HttpCacheInterceptor on a controller, and app.close().
 */
import 'reflect-metadata'
import { type Cache, isCacheError } from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import {
  Controller,
  Get,
  HttpCode,
  type INestApplication,
  Injectable,
  Module,
  Param,
  ParseIntPipe,
  Post,
  UseInterceptors,
} from '@nestjs/common'
import { ConfigModule, ConfigService } from '@nestjs/config'
import { Test } from '@nestjs/testing'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  Cacheable,
  CacheInvalidate,
  CacheTTL,
  HERDLESS_CACHE,
  HerdlessModule,
  HttpCacheInterceptor,
  InjectCache,
  NoCache,
} from '../src'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface User {
  id: number
  name: string
  version: number
}

@Injectable()
class UserService {
  loads = 0
  readonly names = new Map<number, string>()

  @Cacheable({ key: (id: number) => `user:${id}`, ttl: '1m', tags: ['users'] })
  async findUser(id: number): Promise<User> {
    this.loads++
    await sleep(25)
    return { id, name: this.names.get(id) ?? `user-${id}`, version: this.loads }
  }

  @CacheInvalidate({ keys: (id: number) => [`user:${id}`] })
  async rename(id: number, name: string): Promise<void> {
    this.names.set(id, name)
  }

  @CacheInvalidate({ tags: ['users'] })
  async renameAll(suffix: string): Promise<void> {
    for (const id of [1, 2, 3]) this.names.set(id, `user-${id}-${suffix}`)
  }
}

@Controller('users')
@UseInterceptors(HttpCacheInterceptor)
class UserController {
  handlerCalls = new Map<string, number>()

  // UserService is injected by its type: design:paramtypes from emitDecoratorMetadata.
  constructor(
    private readonly users: UserService,
    @InjectCache() readonly cache: Cache,
  ) {}

  #count(name: string): void {
    this.handlerCalls.set(name, (this.handlerCalls.get(name) ?? 0) + 1)
  }

  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number): Promise<User> {
    this.#count(`get:${id}`)
    await sleep(50)
    return this.users.findUser(id)
  }

  @Get('live/:id')
  @NoCache()
  async live(@Param('id') id: string): Promise<{ id: string }> {
    this.#count(`live:${id}`)
    return { id }
  }

  @Get('short/:id')
  @CacheTTL('5s')
  async short(@Param('id') id: string): Promise<{ id: string }> {
    this.#count(`short:${id}`)
    return { id }
  }

  @Post(':id')
  @HttpCode(200)
  async post(@Param('id') id: string): Promise<{ id: string }> {
    this.#count(`post:${id}`)
    return { id }
  }
}

@Module({
  imports: [
    ConfigModule.forRoot({
      ignoreEnvFile: true,
      load: [() => ({ HERDLESS_REDIS_URL: sharedRedis().url, HERDLESS_PREFIX: uniquePrefix() })],
    }),
    HerdlessModule.forRootAsync({
      isGlobal: true,
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        redis: config.getOrThrow<string>('HERDLESS_REDIS_URL'),
        prefix: config.getOrThrow<string>('HERDLESS_PREFIX'),
        ttl: '1m',
        // Counts handler runs: a loaded CI machine must not turn a slow read into a fail-open reload.
        redisTimeout: '2s',
      }),
    }),
  ],
  controllers: [UserController],
  providers: [UserService],
})
class AppModule {}

/** Sockets and servers alive in this worker (what would keep vitest from exiting). */
function netHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'PipeWrap').length
}

describe('a Nest app with HerdlessModule on Redis', () => {
  let app: INestApplication
  let baseline: number

  beforeAll(async () => {
    baseline = netHandles()
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
  })
  afterAll(async () => {
    await app?.close()
  })

  it('provides the core Cache under the token, by type, and to @InjectCache()', () => {
    const cache = app.get<Cache>(HERDLESS_CACHE)
    expect(typeof cache.getOrSet).toBe('function')
    expect(cache.storeKind).toBe('redis')
    expect(app.get(UserController).cache).toBe(cache)
  })

  it('@Cacheable on a service: 100 concurrent calls run the method once and write Redis', async () => {
    const users = app.get(UserService)
    const before = users.loads
    const results = await Promise.all(Array.from({ length: 100 }, () => users.findUser(1)))
    expect(users.loads - before).toBe(1)
    expect(new Set(results.map((u) => u.version)).size).toBe(1)
    expect(await app.get<Cache>(HERDLESS_CACHE).get('user:1')).toEqual(results[0])
  })

  it('@CacheInvalidate deletes keys and invalidates tags after the method ran', async () => {
    const users = app.get(UserService)
    const v1 = await users.findUser(2)
    expect((await users.findUser(2)).version).toBe(v1.version)
    await users.rename(2, 'renamed')
    const v2 = await users.findUser(2)
    expect(v2).toMatchObject({ name: 'renamed' })
    expect(v2.version).toBeGreaterThan(v1.version)

    const loads = users.loads
    await users.renameAll('x')
    expect((await users.findUser(2)).name).toBe('user-2-x')
    expect((await users.findUser(1)).name).toBe('user-1-x')
    expect(users.loads - loads).toBe(2)
  })

  it('@NoCache routes and POST BYPASS; @CacheTTL routes are cached', async () => {
    const server = app.getHttpServer()
    const calls = app.get(UserController).handlerCalls
    for (let i = 0; i < 2; i++) {
      const live = await request(server).get('/users/live/5').expect(200)
      expect(live.headers['x-cache']).toBe('BYPASS')
      const post = await request(server).post('/users/5').expect(200)
      expect(post.headers['x-cache']).toBe('BYPASS')
      await request(server).get('/users/short/5').expect(200)
    }
    expect(calls.get('live:5')).toBe(2)
    expect(calls.get('post:5')).toBe(2)
    expect(calls.get('short:5')).toBe(1)
  })

  it('app.close() closes the cache and every connection it opened', async () => {
    const cache = app.get<Cache>(HERDLESS_CACHE)
    await app.close()
    let caught: unknown
    try {
      await cache.get('user:1')
    } catch (err) {
      caught = err
    }
    expect(isCacheError(caught, 'E_CLOSED')).toBe(true)
    // Give sockets the loop turn in which they are released.
    await sleep(50)
    expect(netHandles()).toBe(baseline)
  })
})
