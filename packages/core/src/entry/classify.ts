/**
 * Freshness, decided in one place. Every read path (getOrSet, get, has, inspect, getMany,
 * getOrSetMany, lock waiters) classifies an entry here, so no path can forget a rule.
 */
export type Freshness = 'fresh' | 'stale' | 'gone'

interface Deadlines {
  readonly freshUntil: number
  readonly staleUntil: number
}

/**
 * `invalidated`: a tag invalidation newer than the entry's load; such an entry is treated
 * like one expire() marked: past its freshness, still a stale fallback until staleUntil.
 */
export function classify(e: Deadlines, now: number, invalidated = false): Freshness {
  if (now < e.freshUntil && !invalidated) return 'fresh'
  return now < e.staleUntil ? 'stale' : 'gone'
}

/**
 * XFetch (Vattani et al., VLDB 2015): refresh a fresh entry early with a probability that rises
 * as expiry nears, scaled by how long its loader took, but never earlier than `loadMs * beta`
 * before `freshUntil`. Uncapped, a key read R times a second was refreshed about
 * `loadMs * beta * ln(R * loadMs)` early (a third of a 1 s TTL at 8,000 reads/s: 2.5 refreshes per
 * TTL window); with the cap the refresh lands about when the entry would have expired, so a hot
 * key is recomputed once per TTL. Each read inside the window fires with probability
 * exp(-left / (loadMs * beta)) >= 1/e; a key read less often than that falls back to
 * stale-while-revalidate, which blocks nobody either.
 */
export function refreshEarly(
  e: { readonly loadMs: number; readonly freshUntil: number },
  now: number,
  beta: number,
): boolean {
  if (beta <= 0 || e.loadMs <= 0) return false
  const left = e.freshUntil - now
  const window = e.loadMs * beta
  return left <= window && -window * Math.log(Math.random()) >= left
}
