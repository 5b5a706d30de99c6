import { describe, expect, it } from 'vitest'
import { createCache } from '../src/index'

describe('L1 across namespaces (items keyed by the caller key, told apart by namespace)', () => {
  it('keeps the same key of two namespaces and the root apart, and invalidates each alone', async () => {
    const root = createCache({ l1: { max: 100 } })
    const a = root.namespace('a')
    const b = root.namespace('b')
    let loads = 0
    const load = (v: string) => () => {
      loads++
      return v
    }
    expect(await root.getOrSet('k', load('root'))).toBe('root')
    expect(await a.getOrSet('k', load('a'))).toBe('a')
    expect(await b.getOrSet('k', load('b'))).toBe('b')
    expect(root.l1Size).toBe(3)
    // All three from L1 now, each its own value.
    expect(await a.getOrSetResult('k', load('x'))).toEqual({ value: 'a', source: 'l1' })
    expect(await b.getOrSetResult('k', load('x'))).toEqual({ value: 'b', source: 'l1' })
    expect(await root.getOrSetResult('k', load('x'))).toEqual({ value: 'root', source: 'l1' })
    expect(loads).toBe(3)

    await a.delete('k')
    expect(root.l1Size).toBe(2)
    expect(await b.getOrSetResult('k', load('x'))).toEqual({ value: 'b', source: 'l1' })
    expect(await root.getOrSetResult('k', load('x'))).toEqual({ value: 'root', source: 'l1' })
    expect(await a.getOrSetResult('k', load('a2'))).toEqual({ value: 'a2', source: 'loader' })

    await b.invalidatePattern('k*')
    expect(root.l1Size).toBe(2)
    expect(await root.getOrSetResult('k', load('x'))).toEqual({ value: 'root', source: 'l1' })
    expect(await a.getOrSetResult('k', load('x'))).toEqual({ value: 'a2', source: 'l1' })

    await root.set('k', 'root2')
    expect(await a.getOrSetResult('k', load('x'))).toEqual({ value: 'a2', source: 'l1' })
    expect(await root.get('k')).toBe('root2')
    await a.clear()
    expect(await root.getOrSetResult('k', load('x'))).toEqual({ value: 'root2', source: 'l1' })
    expect(await a.get('k')).toBeUndefined()
    await root.close()
  })

  it('evicts by slot and keeps the count of items right', async () => {
    const c = createCache({ l1: { max: 2 } })
    const n = c.namespace('n')
    await c.set('x', 1)
    await n.set('x', 2)
    await c.get('x')
    await n.get('x')
    expect(c.l1Size).toBe(2)
    await c.set('y', 3)
    await c.get('y')
    await c.set('z', 4)
    await c.get('z') // evicts the least recently used slot: 'x' (both namespaces' items)
    expect(c.l1Size).toBe(2)
    await c.close()
  })
  it('counts items of every namespace through evictions of shared slots', async () => {
    const root = createCache({ l1: { max: 2 } })
    const ns = root.namespace('n')
    for (const k of ['a', 'b']) {
      await root.getOrSet(k, () => `root:${k}`)
      await ns.getOrSet(k, () => `n:${k}`)
    }
    expect(root.l1Size).toBe(4) // two slots, two items each
    await root.getOrSet('c', () => 'root:c') // evicts slot 'a' whole (both namespaces)
    expect(root.l1Size).toBe(3)
    expect(await ns.getOrSetResult('a', () => 'again')).toEqual({ value: 'n:a', source: 'l2' })
    expect(root.l1Size).toBe(2) // 'a' back (1 item), 'b' evicted (2 items), 'c' kept
    await root.delete('c')
    expect(root.l1Size).toBe(1)
  })
})
