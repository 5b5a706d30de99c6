/**
 * prom-client metrics fed from a cache's events (`registerMetrics`).
 *
 * @module @herdless/prometheus
 */
export type { KeyGroup, KeyGrouper } from './key-groups'
export { compileKeyGroups, OTHER_GROUP } from './key-groups'
export { DEFAULT_BUCKETS } from './metric-set'
export type { CacheMetrics, HistogramBuckets, MetricsOptions, MetricsSource } from './register-metrics'
export { registerMetrics } from './register-metrics'
export { VERSION } from './version'
