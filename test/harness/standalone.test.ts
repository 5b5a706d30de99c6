import { existsSync } from 'node:fs'
import { redisCommand, sharedRedis, startRedis, uniqueKey } from '@herdless/test-utils'
import Redis from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { elapsed, processExists, processName } from './helpers'

const clients: Redis[] = []
function client(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  redis.on('error', () => {})
  clients.push(redis)
  return redis
}

afterEach(() => {
  for (const redis of clients.splice(0)) redis.disconnect()
})

describe('startRedis', () => {
  it('starts a private server that answers, and stop() leaves no process and no folder', async () => {
    const t0 = performance.now()
    const server = await startRedis()
    console.info(`standalone redis-server up in ${elapsed(t0)} ms`)
    const pid = server.pid
    expect(pid).toBeTypeOf('number')
    expect(processName(pid as number)).toBe('redis-server')
    expect(server.host).toBe('127.0.0.1')
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
    expect(existsSync(server.dir)).toBe(true)

    const redis = client(server.url)
    const key = uniqueKey()
    await redis.set(key, 'v1')
    expect(await redis.get(key)).toBe('v1')
    // Persistence is off: nothing survives a restart, nothing is written to disk.
    expect(await redis.config('GET', 'save')).toEqual(['save', ''])
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'no'])
    expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1'])
    redis.disconnect()

    await server.stop()
    expect(server.running).toBe(false)
    expect(server.pid).toBeNull()
    expect(processExists(pid as number)).toBe(false)
    expect(existsSync(server.dir)).toBe(false)
    await expect(redisCommand(server.port, ['PING'], { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/)
    await server.stop() // idempotent
  })

  it('passes extra args through', async () => {
    const server = await startRedis({ args: ['--maxmemory', '10mb', '--maxmemory-policy', 'allkeys-lfu'] })
    try {
      expect(await redisCommand(server.port, ['CONFIG', 'GET', 'maxmemory'])).toEqual([
        'maxmemory',
        '10485760',
      ])
      expect(await redisCommand(server.port, ['CONFIG', 'GET', 'maxmemory-policy'])).toEqual([
        'maxmemory-policy',
        'allkeys-lfu',
      ])
    } finally {
      await server.stop()
    }
  })

  it('supports --requirepass: the url carries the password', async () => {
    const server = await startRedis({ args: ['--requirepass', 's3cret/x'] })
    try {
      expect(server.url).toBe(`redis://:s3cret%2Fx@127.0.0.1:${server.port}`)
      expect(await client(server.url).ping()).toBe('PONG')
      await expect(redisCommand(server.port, ['GET', 'x'])).rejects.toThrow(/NOAUTH/)
    } finally {
      await server.stop()
    }
  })

  it('kill() is a crash, restart() brings it back on the same port, empty', async () => {
    const server = await startRedis()
    try {
      const { port } = server
      const firstPid = server.pid as number
      const key = uniqueKey()
      await redisCommand(port, ['SET', key, '1'])
      await server.kill()
      expect(processExists(firstPid)).toBe(false)
      expect(existsSync(server.dir)).toBe(true) // kept for restart()
      await expect(redisCommand(port, ['PING'], { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/)

      await server.restart()
      expect(server.port).toBe(port)
      expect(server.pid).not.toBe(firstPid)
      expect(await redisCommand(port, ['PING'])).toBe('PONG')
      expect(await redisCommand(port, ['EXISTS', key])).toBe(0)
    } finally {
      await server.stop()
    }
    await expect(server.restart()).rejects.toThrow(/folder removed/)
  })

  it('reports a server that cannot start, with its error output', async () => {
    await expect(startRedis({ args: ['--no-such-directive', 'x'] })).rejects.toThrow(/Bad directive/)
  })

  it('a fixed port that is taken fails instead of starting elsewhere', async () => {
    const { port } = sharedRedis()
    await expect(startRedis({ port })).rejects.toThrow(/failed to start/)
  })
})

describe('sharedRedis (global setup + inject)', () => {
  it('is reachable from every test file', async () => {
    const shared = sharedRedis()
    expect(shared.url).toBe(`redis://127.0.0.1:${shared.port}`)
    const redis = client(shared.url)
    const key = uniqueKey()
    await redis.set(key, 'x', 'PX', 60_000)
    expect(await redis.get(key)).toBe('x')
  })
})
