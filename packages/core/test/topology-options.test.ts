import { describe, expect, it } from 'vitest'
import { createCache, InvalidOptionError, type TopologySnapshot } from '../src/index'
// White-box: option resolution is internal; degradedReasons is public from `@herdless/core/tools`.
import { resolveCacheOptions } from '../src/options'
import { degradedReasons } from '../src/tools'

function optionError(fn: () => unknown): { code: string; option: string } {
  try {
    fn()
  } catch (err) {
    if (err instanceof InvalidOptionError) return { code: err.code, option: err.option }
    throw err
  }
  throw new Error('expected E_INVALID_OPTION')
}

describe('topology and writeGuard options', () => {
  it('are off by default', () => {
    const r = resolveCacheOptions({})
    expect(r.topology).toBe(false)
    expect(r.writeGuard).toBe(false)
  })

  it('resolve defaults and durations', () => {
    expect(resolveCacheOptions({ topology: true }).topology).toEqual({ pollInterval: 5_000 })
    expect(resolveCacheOptions({ topology: { pollInterval: '250ms' } }).topology).toEqual({
      pollInterval: 250,
    })
    const guarded = resolveCacheOptions({ writeGuard: true })
    expect(guarded.writeGuard).toEqual({ maxMemoryRatio: 0.85 })
    // The guard reads the monitor's figures, so it turns the monitor on.
    expect(guarded.topology).toEqual({ pollInterval: 5_000 })
    const both = resolveCacheOptions({
      topology: { pollInterval: '1s' },
      writeGuard: { maxMemoryRatio: 0.9 },
    })
    expect(both.topology).toEqual({ pollInterval: 1_000 })
    expect(both.writeGuard).toEqual({ maxMemoryRatio: 0.9 })
    expect(resolveCacheOptions({ topology: false, writeGuard: false }).topology).toBe(false)
  })

  it('reject bad input with a coded error naming the option', () => {
    expect(optionError(() => resolveCacheOptions({ topology: 'yes' as never }))).toEqual({
      code: 'E_INVALID_OPTION',
      option: 'topology',
    })
    expect(optionError(() => resolveCacheOptions({ topology: { pollInterval: -1 } })).option).toBe(
      'topology.pollInterval',
    )
    expect(optionError(() => resolveCacheOptions({ topology: { pollInterval: 2 } })).option).toBe(
      'topology.pollInterval',
    )
    expect(optionError(() => resolveCacheOptions({ topology: { interval: '1s' } as never })).option).toBe(
      'topology.interval',
    )
    expect(optionError(() => resolveCacheOptions({ writeGuard: { maxMemoryRatio: 1.5 } })).option).toBe(
      'writeGuard.maxMemoryRatio',
    )
    expect(optionError(() => resolveCacheOptions({ writeGuard: { maxMemoryRatio: 0 } })).option).toBe(
      'writeGuard.maxMemoryRatio',
    )
    expect(optionError(() => resolveCacheOptions({ writeGuard: 0.85 as never })).option).toBe('writeGuard')
    expect(optionError(() => resolveCacheOptions({ topology: false, writeGuard: true })).option).toBe(
      'writeGuard',
    )
    expect(optionError(() => createCache({ topology: [] as never })).option).toBe('topology')
  })

  it('do nothing on the embedded memory store (there is no topology to watch)', async () => {
    const cache = createCache({ topology: { pollInterval: 50 }, writeGuard: true })
    let events = 0
    cache.on('topology:snapshot', () => events++)
    expect(await cache.getOrSet('k', () => 1)).toBe(1)
    expect(cache.topology).toBeUndefined()
    expect(cache.writeGuard).toBeUndefined()
    expect(events).toBe(0)
    await cache.close()
  })
})

describe('degradedReasons', () => {
  const node = {
    id: 'a',
    address: '10.0.0.1:7000',
    role: 'primary' as const,
    slots: [[0, 16_383]] as Array<[number, number]>,
    usedMemory: 1,
    maxMemory: 0,
    memoryRatio: 0,
    fragmentationRatio: 1,
    rss: 1,
    reachable: true,
  }
  const healthy: TopologySnapshot = {
    at: 0,
    mode: 'cluster',
    state: 'ok',
    slotsAssigned: 16_384,
    slotsFail: 0,
    slotsPfail: 0,
    nodes: [node],
  }

  it('is empty for a healthy cluster, and names each problem otherwise', () => {
    expect(degradedReasons(healthy)).toEqual([])
    // PFAIL is one node's suspicion, not the cluster's verdict: not degraded by itself.
    expect(degradedReasons({ ...healthy, slotsPfail: 10 })).toEqual([])
    expect(degradedReasons({ ...healthy, state: 'fail' })).toEqual(['cluster_state:fail'])
    expect(degradedReasons({ ...healthy, slotsFail: 5461 })).toEqual(['5461 slots in FAIL state'])
    expect(degradedReasons({ ...healthy, slotsAssigned: 16_000 })).toEqual(['384 slots unassigned'])
    expect(degradedReasons({ ...healthy, nodes: [{ ...node, reachable: false }] })).toEqual([
      'no node answered',
      'primary 10.0.0.1:7000 (16384 slots) unreachable',
    ])
    // A dead node that no longer serves slots (its replica took over) does not degrade the cluster.
    const spare = { ...node, id: 'b', slots: [], reachable: false }
    expect(degradedReasons({ ...healthy, nodes: [node, spare] })).toEqual([])
  })
})
