/**
 * The programmatic side of `herdless doctor` and `herdless topology`: `runDoctor`, `readTopology`, the formatters and `runCli`.
 *
 * @module @herdless/cli
 */
export { DEFAULT_THRESHOLDS } from './checks'
export type { CliIo } from './cli'
export { EXIT, runCli, USAGE, VERSION } from './cli'
export type { RedisTarget } from './connection'
export { parseRedisUrl, redactUrl } from './connection'
export { runDoctor, summarize } from './doctor'
export type { CliErrorCode } from './errors'
export { CliError, ConnectionError, isCliError, UsageError } from './errors'
export {
  formatDoctorJson,
  formatDoctorText,
  formatSlotRanges,
  formatSummary,
  formatTable,
  formatTopologyJson,
  formatTopologyText,
} from './format'
export { readTopology } from './topology'
export type {
  CheckId,
  ConnectOptions,
  DoctorOptions,
  DoctorReport,
  DoctorThresholds,
  Finding,
  Severity,
  SeveritySummary,
  SlotRange,
  TopologyNode,
  TopologyOptions,
  TopologyReport,
} from './types'
