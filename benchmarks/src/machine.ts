import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  node: string
  redis: string
  date: string
  loadAtStart: string
  loadAtEnd?: string
  commit: string
}

export interface Versions {
  [pkg: string]: string
}

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    const m = /^model name\s*:\s*(.+)$/m.exec(info)
    if (m?.[1]) return m[1].trim()
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown'
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
}

function gitCommit(root: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages/core/src'], {
      cwd: root,
      encoding: 'utf8',
    }).trim()
    return dirty === '' ? sha : `${sha} + uncommitted changes in packages/core/src`
  } catch {
    return 'unknown'
  }
}

export async function describeMachine(admin: Redis, root: string): Promise<Machine> {
  const info = await admin.info('server')
  const redis = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    redis,
    date: new Date().toISOString(),
    loadAtStart: loadAverage(),
    commit: gitCommit(root),
  }
}

/** Installed versions of everything under test, read from their package.json files. */
export function contenderVersions(benchDir: string): Versions {
  const req = createRequire(join(benchDir, 'package.json'))
  const out: Versions = {}
  for (const pkg of [
    '@herdless/core',
    'ioredis',
    'msgpackr',
    'lru-cache',
    'bentocache',
    'cache-manager',
    'keyv',
    '@keyv/redis',
    'cacheable',
  ]) {
    try {
      const pj = JSON.parse(readFileSync(req.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }
      out[pkg] = pj.version
    } catch {
      out[pkg] = findVersionByWalking(req, pkg)
    }
  }
  return out
}

/** For packages whose exports map hides package.json: walk up from the entry point. */
function findVersionByWalking(req: NodeJS.Require, pkg: string): string {
  try {
    let dir = req.resolve(pkg)
    for (let i = 0; i < 6; i++) {
      dir = join(dir, '..')
      try {
        const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string
          version?: string
        }
        if (pj.name === pkg && pj.version) return pj.version
      } catch {
        // keep walking
      }
    }
  } catch {
    // unresolvable
  }
  return 'unknown'
}
