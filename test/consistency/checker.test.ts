import { describe, expect, it } from 'vitest'
import { check, type InvalidationOp, type LoadOp, type Op, type ReadOp } from './checker'

/**
 * The checker itself, on small hand-written histories: it must flag what docs/consistency.md
 * forbids (or the fleet tests could pass vacuously) and nothing it allows.
 */
const T = 1_000_000

function inv(
  p: number,
  type: InvalidationOp['type'],
  version: number,
  start: number,
  end: number,
): InvalidationOp {
  return { p, type, keys: ['k'], versions: { k: version }, start: T + start, end: T + end }
}
function read(
  p: number,
  value: number | undefined,
  source: ReadOp['source'],
  start: number,
  end = start + 1,
): ReadOp {
  return { p, type: 'read', key: 'k', value, source, start: T + start, end: T + end }
}
function load(p: number, value: number, start: number, end: number, threw = false): LoadOp {
  return { p, type: 'load', key: 'k', value, start: T + start, read: T + start + 0.1, end: T + end, threw }
}

/** The old bug: a load reads v1, a delete of v2 completes, the load writes v1, reads return it. */
const lateWrite: Op[] = [
  load(0, 1, 0, 300),
  inv(1, 'delete', 2, 50, 52),
  read(0, 1, 'loader', 10, 301),
  read(2, 1, 'l2', 320),
  read(1, 1, 'l1', 330),
]

describe('history checker', () => {
  it('flags a fresh answer older than a completed delete, in any process and tier', () => {
    const { violations, stats } = check(lateWrite)
    // The loader's own caller started before the delete: concurrent, allowed.
    expect(violations.map((v) => [v.read.p, v.read.source, v.rule])).toEqual([
      [2, 'l2', 1],
      [1, 'l1', 1],
    ])
    expect(violations[0]?.inFlight).toHaveLength(1)
    expect(stats.lateOldLoads).toBe(1)
    expect(stats.racyReads).toBe(2)
  })

  it("allows another process's L1 and joins within the bus window, never its own or L2", () => {
    const ops: Op[] = [
      inv(1, 'delete', 2, 0, 2),
      read(0, 1, 'l1', 50),
      read(0, 1, 'joined', 60),
      read(0, 1, 'l2', 60),
      read(1, 1, 'l1', 10),
      read(0, 1, 'l1', 150),
    ]
    const got = check(ops).violations.map((v) => `${v.read.p}:${v.read.source}:${v.read.start - T}`)
    expect(got).toEqual(['0:l2:60', '1:l1:10', '0:l1:150'])
    expect(check(ops, { windowMs: 200 }).violations).toHaveLength(2)
  })

  it("adds the reader's event-loop stalls to the bus window", () => {
    const ops: Op[] = [inv(1, 'delete', 2, 0, 2), read(0, 1, 'l1', 150)]
    expect(check(ops).violations).toHaveLength(1)
    const stall: Op = { type: 'event', p: 0, name: 'stall', at: T + 10, until: T + 80 }
    expect(check([...ops, stall]).violations).toHaveLength(0)
    // Another process's stall does not count.
    expect(check([...ops, { ...stall, p: 2 }]).violations).toHaveLength(1)
  })

  it('does not hold a read whose own tag lookup failed to tag invalidations (failOpen), and nothing else', () => {
    const tagFail = (p: number, at: number): Op => ({
      type: 'event',
      p,
      name: 'error',
      at: T + at,
      detail: 'E_STORE_UNAVAILABLE:tags',
    })
    const tags = inv(1, 'tags', 2, 0, 2)
    // Without the failed lookup: a violation. With it, in the reader's process during the read: none.
    expect(check([tags, read(0, 1, 'l2', 50, 60)]).violations).toHaveLength(1)
    const excused = check([tags, read(0, 1, 'l2', 50, 60), tagFail(0, 58)])
    expect(excused.violations).toHaveLength(0)
    expect(excused.stats.tagsUnchecked).toBe(1)
    // Another process's failure, one outside the read, or a delete instead of a tag: still flagged.
    expect(check([tags, read(0, 1, 'l2', 50, 60), tagFail(2, 58)]).violations).toHaveLength(1)
    expect(check([tags, read(0, 1, 'l2', 50, 60), tagFail(0, 70)]).violations).toHaveLength(1)
    expect(
      check([inv(1, 'delete', 2, 0, 2), read(0, 1, 'l2', 50, 60), tagFail(0, 58)]).violations,
    ).toHaveLength(1)
  })

  it('treats a read starting within 1 ms of the end as concurrent', () => {
    expect(check([inv(1, 'delete', 2, 0, 2), read(1, 1, 'l2', 2.5)]).violations).toHaveLength(0)
    expect(check([inv(1, 'delete', 2, 0, 2), read(1, 1, 'l2', 3.5)]).violations).toHaveLength(1)
  })

  it('allows stale answers after set, expire and tags, never after delete, pattern or clear', () => {
    for (const type of ['set', 'expire', 'tags'] as const) {
      expect(check([inv(1, type, 2, 0, 2), read(1, 1, 'stale', 20)]).violations).toHaveLength(0)
      expect(check([inv(1, type, 2, 0, 2), read(1, 1, 'l2', 20)]).violations).toHaveLength(1)
    }
    for (const type of ['delete', 'pattern', 'clear'] as const) {
      const v = check([inv(1, type, 2, 0, 2), read(1, 1, 'stale', 20)]).violations
      expect(v.map((x) => x.rule)).toEqual([3])
    }
  })

  it("lets racing sets land in either order (the application's race), not a set that finished first", () => {
    // set(1) and delete(2) overlap: the entry 1 may win.
    expect(
      check([inv(0, 'set', 1, 0, 10), inv(1, 'delete', 2, 5, 8), read(1, 1, 'l2', 20)]).violations,
    ).toHaveLength(0)
    // set(1) completed before the delete began: 1 must never come back.
    expect(
      check([inv(0, 'set', 1, 0, 3), inv(1, 'delete', 2, 5, 8), read(1, 1, 'l2', 20)]).violations,
    ).toHaveLength(1)
  })

  it('ignores invalidations that met a Redis error or ran during a fault', () => {
    const failed = { ...inv(1, 'delete', 2, 0, 2), error: 'E_STORE_UNAVAILABLE' }
    expect(check([failed, read(1, 1, 'l2', 20)]).stats.unsure).toBe(1)
    expect(check([failed, read(1, 1, 'l2', 20)]).violations).toHaveLength(0)
    const event: Op = { type: 'event', p: 1, name: 'error', at: T + 1 }
    expect(check([inv(1, 'delete', 2, 0, 2), event, read(1, 1, 'l2', 20)]).violations).toHaveLength(0)
    const faults = [{ name: 'kill', start: T - 5, end: T + 1 }]
    expect(check([inv(1, 'delete', 2, 0, 2), read(1, 1, 'l2', 20)], { faults }).violations).toHaveLength(0)
  })

  it('counts loads per quiet interval (rule 5) and flags more than the model allows', () => {
    const base = [inv(1, 'delete', 1, 0, 2), inv(1, 'delete', 2, 1000, 1002)]
    const one = check([...base, load(0, 1, 10, 100)]).stats
    expect(one.loadsPerEpoch).toEqual({ '1': 1 })
    expect(one.epochsOverBound).toHaveLength(0)
    // A failed load lets the next caller load again.
    expect(
      check([...base, load(0, 1, 10, 100, true), load(1, 1, 110, 200)]).stats.epochsOverBound,
    ).toHaveLength(0)
    const two = check([...base, load(0, 1, 10, 100), load(1, 1, 110, 200)]).stats
    expect(two.epochsOverBound).toHaveLength(1)
    // A read that began during the invalidation may have had its lease revoked (fenced): its
    // load does not count, the reload does.
    const fenced = { ...load(0, 1, 3, 50), readStart: T + 1 }
    expect(check([...base, fenced, load(1, 1, 110, 200)]).stats.epochsOverBound).toHaveLength(0)
  })
})
