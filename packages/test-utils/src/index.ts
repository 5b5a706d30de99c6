export type { AppProcess } from './app-process'
export { buildPackages, startAppProcess } from './app-process'
export { Calls } from './calls'
export type {
  NodeInfo,
  NodeRef,
  NodeRole,
  RedisCluster,
  ReshardOptions,
  ReshardProgress,
  ReshardResult,
  StartClusterOptions,
} from './cluster'
export { CLUSTER_SLOTS, startCluster } from './cluster'
export type { ClusterNodesEntry } from './cluster-nodes'
export { parseClusterNodes } from './cluster-nodes'
export type { ExtraNode } from './cluster-ops'
export {
  cliAddNode,
  cliRebalance,
  cliReshard,
  killPubsubClients,
  startEmptyClusterNode,
} from './cluster-ops'
export { uniqueKey, uniquePrefix } from './keys'
export { freePort } from './ports'
export { cleanupAllSync } from './processes'
export type { RedisServer, StartRedisOptions } from './redis-server'
export { startRedis } from './redis-server'
export type { RespConnectOptions, RespValue } from './resp'
export { parseInfo, RespConnection, RespReplyError, redisCommand } from './resp'
export type { SharedClusterInfo, SharedClusterNode, SharedRedisInfo } from './shared'
export { sharedCluster, sharedRedis } from './shared'
export { sleep, waitUntil } from './wait'
