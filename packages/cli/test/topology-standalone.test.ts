import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTopology } from '../src/index'
import { sleep, startRedis, type TestRedis } from './helpers'

describe('topology of a standalone primary with one replica', () => {
  let primary: TestRedis
  let replica: TestRedis
  beforeAll(async () => {
    primary = await startRedis({ args: ['--maxmemory', '50mb', '--repl-diskless-sync-delay', '0'] })
    replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] })
    for (let i = 0; i < 100; i++) {
      if ((await replica.client.info('replication')).includes('master_link_status:up')) break
      await sleep(50)
    }
    await primary.client.set('k', 'v')
  })
  afterAll(async () => {
    await replica?.stop()
    await primary?.stop()
  })

  it('lists the primary and the replica its INFO names, with memory and link status', async () => {
    const report = await readTopology(primary.url)
    expect(report).toMatchObject({ mode: 'standalone', clusterState: null, slotsAssigned: null })
    expect(report.nodes).toHaveLength(2)
    const [p, r] = report.nodes
    expect(p).toMatchObject({
      role: 'primary',
      addr: `127.0.0.1:${primary.port}`,
      maxmemory: 50 * 1024 * 1024,
    })
    expect(p?.memoryRatio).toBeGreaterThan(0)
    expect(r).toMatchObject({
      role: 'replica',
      addr: `127.0.0.1:${replica.port}`,
      primaryAddr: `127.0.0.1:${primary.port}`,
      primaryId: p?.id,
      linkStatus: 'up',
      error: null,
    })
    expect(r?.replLag).toBeGreaterThanOrEqual(0)
  })

  it('shows a replica seed with its primary address', async () => {
    const report = await readTopology(replica.url)
    expect(report.nodes).toHaveLength(1)
    expect(report.nodes[0]).toMatchObject({
      role: 'replica',
      primaryAddr: `127.0.0.1:${primary.port}`,
      linkStatus: 'up',
    })
  })
})
