import { inject } from 'vitest'

/** The shared standalone server started once per run by the global setup. */
export interface SharedRedisInfo {
  host: string
  port: number
  url: string
}

/** One node of the shared cluster, as it was when the run started. */
export interface SharedClusterNode {
  id: string
  index: number
  host: string
  port: number
  role: 'primary' | 'replica'
  primaryId?: string
  slots: [number, number][]
}

/** The shared 3 + 3 cluster started once per run by the global setup. */
export interface SharedClusterInfo {
  startupNodes: { host: string; port: number }[]
  nodes: SharedClusterNode[]
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by @herdless/test-utils/global-setup; null when it was disabled. */
    herdlessRedis: SharedRedisInfo | null
    /** Set by @herdless/test-utils/global-setup; null when HERDLESS_SHARED_CLUSTER=0. */
    herdlessCluster: SharedClusterInfo | null
  }
}

const HINT =
  'is not available: run tests through the root vitest config (its globalSetup is ' +
  'packages/test-utils/src/global-setup.ts), or start a private one with startRedis() / startCluster()'

/**
 * The run's shared standalone Redis. Never stop, kill, FLUSHALL or reconfigure it: other test
 * files use it at the same time. Use uniqueKey()/uniquePrefix() for every key.
 */
export function sharedRedis(): SharedRedisInfo {
  const info = inject('herdlessRedis')
  if (!info) throw new Error(`sharedRedis() ${HINT}`)
  return info
}

/**
 * The run's shared 3-primary/3-replica cluster. Read-only topology: tests that kill, fail over or
 * reshard start their own with startCluster().
 */
export function sharedCluster(): SharedClusterInfo {
  const info = inject('herdlessCluster')
  if (!info) throw new Error(`sharedCluster() ${HINT} (or HERDLESS_SHARED_CLUSTER=0 disabled it)`)
  return info
}
