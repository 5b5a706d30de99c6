const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const

/** Bytes for people, in 1024 steps like Redis's own `*_human` fields: `1.50 MB`. */
export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${UNITS[unit]}`
}

/** Bytes as a redis.conf / CONFIG SET value, rounded up to whole MB: `1536mb`. */
export function formatConfigBytes(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / (1024 * 1024)))}mb`
}

export function formatRatio(ratio: number): string {
  return ratio.toFixed(2)
}
