import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { redisCommand, sharedCluster, sharedRedis } from '@herdless/test-utils'
import { describe, expect, it } from 'vitest'

function commandOf(pid: string | number): string {
  const file = `/proc/${pid}/cmdline`
  return existsSync(file) ? readFileSync(file, 'utf8').replaceAll('\0', ' ') : ''
}

function childrenOf(ppid: number): string[] {
  return readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false
    try {
      return readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(ppid)
    } catch {
      return false
    }
  })
}

describe('global setup, seen from a project with its own vitest.config.ts', () => {
  it('inject() reaches the shared standalone server', async () => {
    expect(await redisCommand(sharedRedis().port, ['PING'])).toBe('PONG')
  })

  it('inject() reaches the shared cluster', async () => {
    const { nodes, startupNodes } = sharedCluster()
    expect(startupNodes).toHaveLength(6)
    const info = String(await redisCommand(nodes[0]?.port ?? 0, ['CLUSTER', 'INFO']))
    expect(info).toMatch(/cluster_state:ok/)
  })

  // With several projects, a globalSetup inherited by each project would start one pair per
  // project: the vitest process must own exactly one standalone server and six cluster nodes.
  it.skipIf(process.platform !== 'linux' || !commandOf(process.ppid).includes('vitest'))(
    'runs once per run, whatever the number of projects',
    () => {
      const servers = childrenOf(process.ppid).filter((pid) => commandOf(pid).startsWith('redis-server'))
      const cluster = servers.filter((pid) => commandOf(pid).includes('[cluster]'))
      expect(servers.length - cluster.length).toBe(1)
      expect(cluster).toHaveLength(process.env.HERDLESS_SHARED_CLUSTER === '0' ? 0 : 6)
    },
  )
})
