import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { Arg, Client, ScriptSource } from './client'

/** An ioredis client (the bus publishes with one until it moves onto the seam). */
export type RedisClient = Redis | Cluster

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when the server lacks it
 * (restart, failover, SCRIPT FLUSH): the fallback lives in the client seam (Client.evalScript),
 * so it works on any client we were handed without registering commands on it.
 */
export class LuaScript implements ScriptSource {
  readonly sha: string
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  run(client: Client, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    return client.evalScript(this, keys, args, false)
  }

  /**
   * As run(), with bulk replies as Buffers (entry bytes are binary: a string reply would mangle
   * them, and LOCK_OR_READ's answer must stay distinguishable from its integer replies).
   */
  runBuffer(client: Client, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    return client.evalScript(this, keys, args, true)
  }
}

/*
 * The lease protocol (docs/consistency.md). Every load that may store its value holds a lease:
 * a token in the entry's lease key (same hash tag, so same slot as the entry). Every
 * invalidation of the entry (set, delete, expire, pattern, clear) deletes the lease in the same
 * script that changes the entry, so a load that began before the invalidation finds its lease
 * gone and its write is refused. No clock of any process is compared with another's.
 *
 * Envelope header (entry/envelope.ts; Lua is 1-based): byte 1 MAGIC 0xD8 (216) or 0xD9 (217, tagged),
 * bytes 2-7 createdAt, 8-13 freshUntil, 14-19 staleUntil: uint48 big-endian milliseconds.
 */

/** Read-or-lock: one round trip that either finds a newer fresh entry or takes the lease. */
export const LOCK_OR_READ = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lease key (same hash tag, so same slot)
-- ARGV[1] the caller's token; ARGV[2] lease TTL in ms
-- ARGV[3] createdAt of the entry the caller already saw (0: none); ARGV[4] the caller's now (ms)
-- ARGV[5] '1': take the lease only if free (SET NX: the lease is the lock);
--         '0': take it unconditionally (a quorum lock elsewhere already gives exclusion)
-- Returns the entry's bytes when a fresh entry newer than the caller's is there (no lease
-- taken), else 1 (lease taken) or 0 (another holder has it).
local cur = redis.call('GET', KEYS[1])
if cur and #cur > 22 then
  local m = string.byte(cur, 1)
  if (m == 216 or m == 217) and struct.unpack('>I6', cur, 2) > tonumber(ARGV[3])
      and struct.unpack('>I6', cur, 8) > tonumber(ARGV[4]) then
    return cur
  end
end
if ARGV[5] == '1' then
  if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
  return 0
end
-- A stale-if-error backoff (FAIL_LOADED) holds the lease for every strategy.
if redis.call('GET', KEYS[2]) == 'backoff' then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
`)

/** A loader's result: stored only while the writer's lease is intact. */
export const WRITE_LOADED = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lease key
-- ARGV[1] the writer's token; ARGV[2] envelope bytes; ARGV[3] physical TTL in ms
-- The lease is gone when an invalidation ran since the load began (or it expired, or another
-- holder took over): the value is older than what the cache must now hold. Refuse.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`)

/**
 * LOCK_OR_READ for many entries in one call (single server only: the keys need not share a
 * slot). Each pair runs exactly LOCK_OR_READ's steps; a pair whose commands fail (a key of
 * the wrong type) answers -1 and the caller runs it alone to get its own error.
 */
export const LOCK_OR_READ_MANY = new LuaScript(`
-- KEYS: pairs (entry key, its lease key); ARGV: 5 per pair, as LOCK_OR_READ's ARGV[1..5]
local function one(entry, lease, token, ttl, seen, now, exclusive)
  local cur = redis.call('GET', entry)
  if cur and #cur > 22 then
    local m = string.byte(cur, 1)
    if (m == 216 or m == 217) and struct.unpack('>I6', cur, 2) > tonumber(seen)
        and struct.unpack('>I6', cur, 8) > tonumber(now) then
      return cur
    end
  end
  if exclusive == '1' then
    if redis.call('SET', lease, token, 'NX', 'PX', ttl) then return 1 end
    return 0
  end
  if redis.call('GET', lease) == 'backoff' then return 0 end
  redis.call('SET', lease, token, 'PX', ttl)
  return 1
end
local out = {}
for i = 1, #KEYS, 2 do
  local a = (i - 1) / 2 * 5
  local ok, r = pcall(one, KEYS[i], KEYS[i + 1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
  if ok then out[#out + 1] = r else out[#out + 1] = -1 end
end
return out
`)

/** WRITE_LOADED for many entries in one call (single server only); -1 as in LOCK_OR_READ_MANY. */
export const WRITE_LOADED_MANY = new LuaScript(`
-- KEYS: pairs (entry key, its lease key); ARGV: 3 per pair, as WRITE_LOADED's ARGV[1..3]
local function one(entry, lease, token, bytes, px)
  if redis.call('GET', lease) ~= token then return 0 end
  redis.call('SET', entry, bytes, 'PX', px)
  redis.call('DEL', lease)
  return 1
end
local out = {}
for i = 1, #KEYS, 2 do
  local a = (i - 1) / 2 * 3
  local ok, r = pcall(one, KEYS[i], KEYS[i + 1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
  if ok then out[#out + 1] = r else out[#out + 1] = -1 end
end
return out
`)

/**
 * A failed load: give the lease back or, for stale-if-error, turn it into a backoff: the lease
 * stays taken (value 'backoff') for a while, so readers keep getting the stale entry without
 * running the failing loader. The entry itself is not touched: it stays stale, never fresh.
 */
export const FAIL_LOADED = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lease key
-- ARGV[1] the holder's token; ARGV[2] createdAt (6 bytes uint48 BE) of the entry the load read, or ''
-- ARGV[3] backoff in ms (0: none)
-- Only while no invalidation ran (lease intact) and the entry is still the one the load read.
-- Any invalidation deletes the backoff like any lease.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local head = ARGV[2] ~= '' and redis.call('GETRANGE', KEYS[1], 0, 6) or ''
local m = string.byte(head, 1)
if tonumber(ARGV[3]) <= 0 or not (m == 216 or m == 217) or string.sub(head, 2) ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('SET', KEYS[2], 'backoff', 'PX', ARGV[3])
return 2
`)

/** set(): write the entry and revoke any lease, in one step. */
export const WRITE_ENTRY = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lease key; ARGV[1] envelope bytes; ARGV[2] physical TTL in ms
-- SET keeps the key's LFU counter; the DEL fences every load in flight.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`)

/** delete() / expire(): change the entries and revoke their leases, in one step per entry. */
export const INVALIDATE = new LuaScript(`
-- KEYS: pairs (entry key, its lease key); on a cluster the caller sends one pair per call
-- ARGV[1] 'del' (UNLINK the entry) or 'exp' (freshUntil := 0 in place: TTL and LFU survive)
-- Returns how many entries existed (del) or were marked (exp).
local n = 0
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i + 1])
  if ARGV[1] == 'del' then
    n = n + redis.call('UNLINK', KEYS[i])
  else
    local m = string.byte(redis.call('GETRANGE', KEYS[i], 0, 0))
    if m == 216 or m == 217 then
      redis.call('SETRANGE', KEYS[i], 7, string.rep('\\0', 6))
      n = n + 1
    end
  end
end
return n
`)

export const EXTEND_LOCK = new LuaScript(`
-- KEYS[1] lease key; ARGV[1] holder token; ARGV[2] new TTL in ms
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

export const RELEASE_LOCK = new LuaScript(`
-- KEYS[1] lease key; ARGV[1] holder token: delete only our own lease
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

/** Every script, for SCRIPT LOAD on connect. */
export const SCRIPTS: readonly LuaScript[] = [
  LOCK_OR_READ,
  WRITE_LOADED,
  LOCK_OR_READ_MANY,
  WRITE_LOADED_MANY,
  FAIL_LOADED,
  WRITE_ENTRY,
  INVALIDATE,
  EXTEND_LOCK,
  RELEASE_LOCK,
]
