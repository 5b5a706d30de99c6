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
 * as expiry nears, scaled by how long its loader took.
 */
export function refreshEarly(
  e: { readonly loadMs: number; readonly freshUntil: number },
  now: number,
  beta: number,
): boolean {
  return beta > 0 && e.loadMs > 0 && now - e.loadMs * beta * Math.log(Math.random()) >= e.freshUntil
}
