/**
 * `@herdless/core/tools`: the pure parsers the topology monitor reads Redis replies with, for
 * tools built beside the engine (`herdless doctor` / `herdless topology`). One parser per reply,
 * so the CLI and the monitor agree on what a `CLUSTER NODES` line means (a node is `failed`
 * only when the cluster flagged it `fail`; `fail?` is `suspected`).
 *
 * Not part of the cache API: no stability promise beyond the package's minor version.
 *
 * @packageDocumentation
 */
export type { ClusterNodeLine } from './topology/replies'
export { countSlots, infoNumber, mergeRanges, parseClusterNodes, parseInfo } from './topology/replies'
