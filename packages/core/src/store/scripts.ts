import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

export type RedisClient = Redis | Cluster

interface BufferScripting {
  evalshaBuffer(...args: Array<string | Buffer | number>): Promise<unknown>
  evalBuffer(...args: Array<string | Buffer | number>): Promise<unknown>
}

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

  /** Not async: one promise fewer per script call (every miss runs two). */
  run(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer | number>,
  ): Promise<unknown> {
    return client
      .evalsha(this.sha, keys.length, ...keys, ...args)
      .catch((err: unknown) =>
        this.#fallback(err, () => client.eval(this.source, keys.length, ...keys, ...args)),
      )
  }

  /**
   * As run(), with bulk replies as Buffers (entry bytes are binary). ioredis defines
   * `evalshaBuffer`/`evalBuffer` for every command but does not declare them; `callBuffer`
   * loses its command name under auto-pipelining.
   */
  runBuffer(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer | number>,
  ): Promise<unknown> {
    const c = client as unknown as BufferScripting
    return c
      .evalshaBuffer(this.sha, keys.length, ...keys, ...args)
      .catch((err: unknown) =>
        this.#fallback(err, () => c.evalBuffer(this.source, keys.length, ...keys, ...args)),
      )
  }

  #fallback(err: unknown, evalSource: () => Promise<unknown>): Promise<unknown> {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return evalSource()
    return Promise.reject(err)
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

/** A failed load: give the lease back and, for stale-if-error, keep the entry it read fresh a while. */
export const FAIL_LOADED = new LuaScript(`
-- KEYS[1] entry key; KEYS[2] its lease key
-- ARGV[1] the holder's token; ARGV[2] createdAt (6 bytes uint48 BE) of the entry the load read, or ''
-- ARGV[3] the backoff's freshUntil, 6 bytes uint48 big-endian
-- Only the entry the load read, and only while no invalidation ran (lease intact): never a newer
-- entry, never one that expire() made stale.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[2] == '' then return 1 end
local head = redis.call('GETRANGE', KEYS[1], 0, 6)
local m = string.byte(head, 1)
if not (m == 216 or m == 217) or string.sub(head, 2) ~= ARGV[2] then return 1 end
redis.call('SETRANGE', KEYS[1], 7, ARGV[3])
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
  FAIL_LOADED,
  WRITE_ENTRY,
  INVALIDATE,
  EXTEND_LOCK,
  RELEASE_LOCK,
]
