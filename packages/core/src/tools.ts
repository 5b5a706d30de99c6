/**
 * `@herdless/core/tools`: building blocks for tools that run beside the engine
 * (`herdless doctor` / `herdless topology`, chaos tests, dashboards):
 *
 * - the pure parsers the topology monitor reads Redis replies with. One parser per reply, so the
 *   CLI and the monitor agree on what a `CLUSTER NODES` line means (a node is `failed` only when
 *   the cluster flagged it `fail`; `fail?` is `suspected`);
 * - {@link keySlot}, the cluster hash slot of a Redis key (hash tags honoured);
 * - {@link TopologyMonitor}, the poller behind `createCache({ topology })`, usable on its own
 *   client, and {@link degradedReasons}, its rule for "degraded".
 *
 * Not part of the cache API: no stability promise beyond the package's minor version. This entry
 * shares its code with the main one (one copy of the error classes), so an error thrown from here
 * is `instanceof` the class exported by `@herdless/core`.
 *
 * @packageDocumentation
 * @module @herdless/core/tools
 */
// Types the monitor's signature names, so this entry stands on its own.
export type { Duration } from './duration'
export type { CacheError, CacheErrorOptions, ErrorCode } from './errors'
export { keySlot } from './keys'
export type { IoredisInstance, NodeRedisInstance } from './store/client'
export type { TopologyClient, TopologyEventName, TopologyMonitorOptions } from './topology/monitor'
export { degradedReasons, TopologyMonitor } from './topology/monitor'
export type { ClusterNodeLine } from './topology/replies'
export { countSlots, infoNumber, mergeRanges, parseClusterNodes, parseInfo } from './topology/replies'
export type { BusUnhealthyReason, CacheEvents, Tier, TopologyNode, TopologySnapshot } from './types'
