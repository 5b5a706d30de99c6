import { randomBytes } from 'node:crypto'

let counter = 0

/**
 * A random id, unique per call across processes and runs: pid + counter + 48 random bits.
 * Only [a-z0-9-]: no `{}` (a hash tag would pin keys to one slot), no `:` or `*`.
 */
function uniqueId(): string {
  counter = (counter + 1) % 1_679_616
  return `${process.pid.toString(36)}-${counter.toString(36)}-${randomBytes(6).toString('hex')}`
}

/**
 * A key prefix / namespace for one test: `t-<id>`. Pass it as the cache `prefix` so that a
 * test's keys, tags and channels never meet another test's, on the shared server or cluster.
 */
export function uniquePrefix(): string {
  return `t-${uniqueId()}`
}

/** A key no other test uses: `<prefix>:<id>` (prefix defaults to `k`). */
export function uniqueKey(prefix = 'k'): string {
  return `${prefix}:${uniqueId()}`
}
