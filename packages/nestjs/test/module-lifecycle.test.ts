/**
 * HerdlessModule's options and ownership: what it creates it closes; a client or cache you
 * pass in stays open. forRootAsync with useClass / useExisting. Errors are coded.
 */
import 'reflect-metadata'
import { type Cache, createCache, isCacheError } from '@herdless/core'
import { sharedRedis, uniqueKey, uniquePrefix } from '@herdless/test-utils'
import { Controller, Get, Injectable, Module } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import {
  Cacheable,
  CacheNotWiredError,
  HERDLESS_CACHE,
  HerdlessModule,
  type HerdlessModuleOptions,
  HttpCache,
} from '../src'

async function start(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>) {
  const moduleRef = await Test.createTestingModule({ imports }).compile()
  const app = moduleRef.createNestApplication({ logger: false })
  await app.init()
  return app
}

describe('HerdlessModule ownership', () => {
  it('leaves a passed-in ioredis client open, and closes the cache it created around it', async () => {
    const client = new Redis(sharedRedis().url)
    try {
      const app = await start([HerdlessModule.forRoot({ redis: client, prefix: uniquePrefix() })])
      const cache = app.get<Cache>(HERDLESS_CACHE)
      await cache.set('k', 1)
      expect(await cache.get('k')).toBe(1)
      await app.close()
      await expect(cache.get('k')).rejects.toMatchObject({ code: 'E_CLOSED' })
      expect(client.status).toBe('ready')
      expect(await client.ping()).toBe('PONG')
    } finally {
      await client.quit()
    }
  })

  it('closes the Redis connection it created from ioredis options', async () => {
    const { host, port } = sharedRedis()
    const name = uniqueKey('conn').replace(':', '-')
    const app = await start([
      HerdlessModule.forRoot({ redis: { host, port, connectionName: name }, prefix: uniquePrefix() }),
    ])
    const cache = app.get<Cache>(HERDLESS_CACHE)
    await cache.set('k', 1)
    // Count the module's connection on the server by its CLIENT SETNAME.
    const admin = new Redis(sharedRedis().url)
    try {
      const connections = async () =>
        String(await admin.client('LIST'))
          .split('\n')
          .filter((line) => line.includes(` name=${name} `)).length
      // The command connection, and its duplicate for lock notifications (Pub/Sub).
      expect(await connections()).toBeGreaterThanOrEqual(1)
      await app.close()
      await expect(cache.get('k')).rejects.toMatchObject({ code: 'E_CLOSED' })
      expect(await connections()).toBe(0)
    } finally {
      await admin.quit()
    }
  })

  it('provides a cache you pass in and leaves it open', async () => {
    const mine = createCache({ redis: sharedRedis().url, prefix: uniquePrefix() })
    try {
      const app = await start([HerdlessModule.forRoot({ cache: mine })])
      expect(app.get(HERDLESS_CACHE)).toBe(mine)
      await app.close()
      await mine.set('still', 'open')
      expect(await mine.get('still')).toBe('open')
    } finally {
      await mine.close()
    }
  })

  it('rejects cache together with other options, with E_INVALID_OPTION', async () => {
    const mine = createCache()
    let caught: unknown
    try {
      await start([HerdlessModule.forRoot({ cache: mine, ttl: '1m' })])
    } catch (err) {
      caught = err
    }
    expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
    await mine.close()
  })

  it('rejects bad @HttpCache route options at startup, with E_INVALID_OPTION', async () => {
    @Controller('bad')
    class BadController {
      @Get()
      @HttpCache({ ttl: 'soon' })
      async get(): Promise<string> {
        return 'x'
      }
    }
    @Module({ imports: [HerdlessModule.forRoot({})], controllers: [BadController] })
    class BadModule {}
    let caught: unknown
    try {
      await start([BadModule])
    } catch (err) {
      caught = err
    }
    expect(isCacheError(caught, 'E_INVALID_OPTION'), String(caught)).toBe(true)
  })

  it('rejects bad createCache options at startup, with E_INVALID_OPTION', async () => {
    let caught: unknown
    try {
      await start([HerdlessModule.forRoot({ ttl: 'forever' })])
    } catch (err) {
      caught = err
    }
    expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
  })
})

describe('forRootAsync', () => {
  @Injectable()
  class CacheConfig {
    readonly prefix = uniquePrefix()
    createHerdlessOptions(): HerdlessModuleOptions {
      return { redis: sharedRedis().url, prefix: this.prefix }
    }
  }

  @Module({ providers: [CacheConfig], exports: [CacheConfig] })
  class CacheConfigModule {}

  it('useClass: the module instantiates the options factory', async () => {
    const app = await start([HerdlessModule.forRootAsync({ useClass: CacheConfig })])
    const cache = app.get<Cache>(HERDLESS_CACHE)
    expect(cache.prefix).toMatch(/^t-/)
    expect(cache.storeKind).toBe('redis')
    await app.close()
  })

  it('useExisting: the options factory comes from an imported module', async () => {
    const app = await start([
      CacheConfigModule,
      HerdlessModule.forRootAsync({ imports: [CacheConfigModule], useExisting: CacheConfig }),
    ])
    expect(app.get<Cache>(HERDLESS_CACHE).prefix).toBe(app.get(CacheConfig).prefix)
    await app.close()
  })
})

describe('@Cacheable outside a Herdless application', () => {
  it('rejects with CacheNotWiredError (E_INVALID_OPTION) and does not run the method', async () => {
    let calls = 0
    class Loose {
      @Cacheable()
      async load(): Promise<number> {
        calls++
        return 1
      }
    }
    let caught: unknown
    try {
      await new Loose().load()
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(CacheNotWiredError)
    expect(isCacheError(caught, 'E_INVALID_OPTION')).toBe(true)
    expect(String(caught)).toContain('Loose')
    expect(calls).toBe(0)
  })

  it('is wired in two applications at once, each with its own cache', async () => {
    @Injectable()
    class Counter {
      calls = 0
      @Cacheable({ key: () => 'counter' })
      async next(): Promise<number> {
        this.calls++
        return this.calls
      }
    }
    const make = () => {
      @Module({
        imports: [HerdlessModule.forRoot({ redis: sharedRedis().url, prefix: uniquePrefix() })],
        providers: [Counter],
      })
      class M {}
      return start([M])
    }
    const [a, b] = await Promise.all([make(), make()])
    try {
      expect(await a.get(Counter).next()).toBe(1)
      expect(await a.get(Counter).next()).toBe(1)
      // Another app, another cache (another prefix): its own miss.
      expect(await b.get(Counter).next()).toBe(1)
      expect(a.get(Counter).calls + b.get(Counter).calls).toBe(2)
      expect(a.get<Cache>(HERDLESS_CACHE)).not.toBe(b.get<Cache>(HERDLESS_CACHE))
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
