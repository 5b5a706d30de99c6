import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

export type RedisClient = Redis | Cluster

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server lacks it
 * (restart, failover, SCRIPT FLUSH). Works on any client we were handed without
 * registering commands on it.
 */
export class LuaScript {
  readonly sha: string
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer | number>,
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args)
      }
      throw err
    }
  }
}

/** Envelope header: byte 1 MAGIC 0xD7 (215), bytes 2-9 createdAt, 10-17 freshUntil (Lua is 1-based). */
export const WRITE_LOADED = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lock key (same hash tag, so same slot)
-- ARGV[1] the writer's lock token; ARGV[2] envelope bytes; ARGV[3] physical TTL in ms
-- ARGV[4] createdAt (ms) of the envelope being written
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
-- The lock expired or was taken over: never overwrite an entry written after ours was loaded.
local cur = redis.call('GET', KEYS[1])
if cur and #cur > 29 and string.byte(cur, 1) == 215 then
  if struct.unpack('>d', cur, 2) >= tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

export const MARK_STALE = new LuaScript(`
-- KEYS[1] entry key; ARGV[1] new freshUntil, 8 bytes float64 big-endian
-- SETRANGE rewrites the header in place: TTL and the LFU counter survive.
local cur = redis.call('GETRANGE', KEYS[1], 0, 0)
if cur ~= '\\215' then return 0 end
redis.call('SETRANGE', KEYS[1], 9, ARGV[1])
return 1
`)

export const EXTEND_LOCK = new LuaScript(`
-- KEYS[1] lock key; ARGV[1] holder token; ARGV[2] new TTL in ms
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

export const RELEASE_LOCK = new LuaScript(`
-- KEYS[1] lock key; ARGV[1] holder token: delete only our own lock
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
