import { waitUntil } from '@herdless/test-utils'
import type { Cache, CacheEvents } from '../src/index'

/** Every topology event (and error, and skipped write) a cache emits, in order. */
export function record(cache: Cache) {
  const r = {
    snapshots: 0,
    changed: [] as CacheEvents['topology:changed'][],
    degraded: [] as CacheEvents['topology:degraded'][],
    recovered: [] as CacheEvents['topology:recovered'][],
    scale: [] as CacheEvents['topology:scale-needed'][],
    errors: [] as CacheEvents['error'][],
    skipped: [] as CacheEvents['write:skipped'][],
  }
  cache.on('topology:snapshot', () => r.snapshots++)
  cache.on('topology:changed', (e) => r.changed.push(e))
  cache.on('topology:degraded', (e) => r.degraded.push(e))
  cache.on('topology:recovered', (e) => r.recovered.push(e))
  cache.on('topology:scale-needed', (e) => r.scale.push(e))
  cache.on('error', (e) => r.errors.push(e))
  cache.on('write:skipped', (e) => r.skipped.push(e))
  return r
}

/** Bounded wait for something the monitor does on its own schedule. */
export const until = (what: string, check: () => boolean, timeoutMs = 15_000) =>
  waitUntil(what, () => check() || 'not yet', { timeoutMs, intervalMs: 20 })
