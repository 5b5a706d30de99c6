import { describe, expect, it } from 'vitest'
import { refreshEarly } from '../src/entry/classify'

/** Counts, never timings: how often 10,000 reads at a given point of an entry's life refresh early. */
function fired(left: number, loadMs: number, beta = 1): number {
  const now = 1_000_000
  let n = 0
  for (let i = 0; i < 10_000; i++) if (refreshEarly({ loadMs, freshUntil: now + left }, now, beta)) n++
  return n
}

describe('early refresh (XFetch, capped)', () => {
  it('never refreshes earlier than loadMs * beta before freshUntil, however many reads', () => {
    // Uncapped XFetch fired here for about 1 read in 20 (exp(-300/100)): a hot key refreshed
    // a third of its TTL early, 2.5 times per TTL window.
    expect(fired(300, 100)).toBe(0)
    expect(fired(101, 100)).toBe(0)
    expect(fired(201, 100, 2)).toBe(0)
  })

  it('inside the window, fires for at least 1 read in e (a hot key refreshes once, just before expiry)', () => {
    expect(fired(100, 100)).toBeGreaterThan(3_000)
    expect(fired(10, 100)).toBeGreaterThan(8_000)
    expect(fired(-1, 100)).toBe(10_000)
  })

  it('is off with beta 0 or an unknown load time', () => {
    expect(fired(1, 100, 0)).toBe(0)
    expect(fired(1, 0)).toBe(0)
  })
})
