import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, type DoctorReport, type Finding, runDoctor } from '../src/index'
import { freePort, runCliCaptured, startRedis, type TestRedis } from './helpers'

function finding(report: DoctorReport, id: Finding['id']): Finding {
  const found = report.findings.find((f) => f.id === id)
  if (found === undefined) throw new Error(`no ${id} finding in ${JSON.stringify(report.findings, null, 2)}`)
  return found
}

const WELL_CONFIGURED = [
  '--maxmemory',
  '100mb',
  '--maxmemory-policy',
  'allkeys-lfu',
  '--maxmemory-samples',
  '10',
]

describe('doctor on a server with Redis defaults (no maxmemory, noeviction, 5 samples)', () => {
  let redis: TestRedis
  let report: DoctorReport
  beforeAll(async () => {
    redis = await startRedis()
    report = await runDoctor(redis.url)
  })
  afterAll(() => redis?.stop())

  it('fails maxmemory 0 and names the config line and the CONFIG SET that fix it', () => {
    const f = finding(report, 'maxmemory')
    expect(f.severity).toBe('fail')
    expect(f.node).toBe(`127.0.0.1:${redis.port}`)
    expect(f.fix).toMatch(/^maxmemory \d+mb$/)
    expect(f.fixCommand).toMatch(/^CONFIG SET maxmemory \d+mb$/)
  })

  it('fails noeviction and proposes allkeys-lfu', () => {
    const f = finding(report, 'maxmemory-policy')
    expect(f.severity).toBe('fail')
    expect(f.measured).toContain('noeviction')
    expect(f.fix).toBe('maxmemory-policy allkeys-lfu')
    expect(f.fixCommand).toBe('CONFIG SET maxmemory-policy allkeys-lfu')
  })

  it('warns about maxmemory-samples 5', () => {
    const f = finding(report, 'maxmemory-samples')
    expect(f.severity).toBe('warn')
    expect(f.measured).toBe('5')
    expect(f.fix).toBe('maxmemory-samples 10')
  })

  it('skips the memory ratio (there is no limit) and lists problems first', () => {
    expect(finding(report, 'memory-usage').severity).toBe('skipped')
    const order = report.findings.map((f) => f.severity)
    expect(order.slice(0, 2)).toEqual(['fail', 'fail'])
    expect(report.exitCode).toBe(1)
    expect(report.summary.fail).toBe(2)
  })

  it('exits 1 from the CLI and prints a table with the summary line', async () => {
    const { code, stdout, stderr } = await runCliCaptured(['doctor', redis.url])
    expect(code).toBe(1)
    expect(stderr).toBe('')
    expect(stdout).toContain('fail    maxmemory: fail on 1/1 node')
    expect(stdout).toMatch(/\d+ ok, 1 warn, 2 fail, 1 skipped\n$/)
  })
})

describe('doctor on a small, full server with an LRU policy', () => {
  let redis: TestRedis
  let report: DoctorReport
  beforeAll(async () => {
    redis = await startRedis({
      args: ['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '10'],
    })
    const pipeline = redis.client.pipeline()
    for (let i = 0; i < 4000; i++) pipeline.set(`fill:${i}`, 'x'.repeat(1000))
    await pipeline.exec()
    report = await runDoctor(redis.url)
  })
  afterAll(() => redis?.stop())

  it('fails memory usage above 0.85 of maxmemory', () => {
    const f = finding(report, 'memory-usage')
    expect(f.severity).toBe('fail')
    expect(Number(f.measured.split(' ')[0])).toBeGreaterThan(0.85)
    expect(f.fixCommand).toMatch(/^CONFIG SET maxmemory \d+mb$/)
  })

  it('warns about an LRU policy', () => {
    const f = finding(report, 'maxmemory-policy')
    expect(f.severity).toBe('warn')
    expect(f.measured).toBe('allkeys-lru')
    expect(f.fix).toBe('maxmemory-policy allkeys-lfu')
  })

  it('passes maxmemory and samples', () => {
    expect(finding(report, 'maxmemory').severity).toBe('ok')
    expect(finding(report, 'maxmemory-samples').severity).toBe('ok')
  })
})

describe('doctor as an ACL user that may not run CONFIG', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await startRedis({ args: WELL_CONFIGURED })
    await redis.client.call('ACL', 'SETUSER', 'noconfig', 'on', '>s3cret', '~*', '&*', '+@all', '-config')
    await redis.client.call(
      'ACL',
      'SETUSER',
      'blind',
      'on',
      '>s3cret',
      '~*',
      '&*',
      '+@all',
      '-config',
      '-info',
    )
  })
  afterAll(() => redis?.stop())

  it('reports the CONFIG-only checks as skipped with the NOPERM reason, and still judges the rest', async () => {
    const report = await runDoctor(`redis://noconfig:s3cret@127.0.0.1:${redis.port}`)
    const samples = finding(report, 'maxmemory-samples')
    expect(samples.severity).toBe('skipped')
    expect(samples.reason).toMatch(/NOPERM/)
    // INFO memory carries maxmemory and the policy, so these are still judged.
    expect(finding(report, 'maxmemory').severity).toBe('ok')
    expect(finding(report, 'maxmemory-policy').severity).toBe('ok')
    expect(report.target).toBe(`redis://noconfig:***@127.0.0.1:${redis.port}`)
    expect(report.exitCode).toBe(0)
  })

  it('needs nothing more than the minimal ACL the README documents', async () => {
    await redis.client.call(
      'ACL',
      'SETUSER',
      'doctor',
      'on',
      '>s3cret',
      '+ping',
      '+info',
      '+config|get',
      '+cluster|info',
      '+cluster|nodes',
    )
    const report = await runDoctor(`redis://doctor:s3cret@127.0.0.1:${redis.port}`)
    expect(report.summary).toMatchObject({ skipped: 0, fail: 0, warn: 0 })
  })

  it('skips everything without crashing when INFO is denied too', async () => {
    const { code, stdout } = await runCliCaptured([
      'doctor',
      `redis://blind:s3cret@127.0.0.1:${redis.port}`,
      '--json',
    ])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as DoctorReport
    expect(report.summary.skipped).toBe(report.findings.length)
    for (const f of report.findings) expect(f.reason).toMatch(/NOPERM/)
    expect(stdout).not.toContain('s3cret')
  })
})

describe('doctor on a cache that mostly misses', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await startRedis({ args: WELL_CONFIGURED })
    await redis.client.set('present', '1')
    const pipeline = redis.client.pipeline()
    for (let i = 0; i < 1200; i++) pipeline.get(i % 4 === 0 ? 'present' : `absent:${i}`)
    await pipeline.exec()
  })
  afterAll(() => redis?.stop())

  it('warns when misses/(hits+misses) is above 0.3 over >= 1000 lookups, and still exits 0', async () => {
    const report = await runDoctor(redis.url)
    const f = finding(report, 'keyspace-miss-ratio')
    expect(f.severity).toBe('warn')
    expect(f.measured).toMatch(/^0\.75 \(900 misses, 300 hits, 0 evicted\)$/)
    expect(report.exitCode).toBe(0)
  })
})

describe('doctor on a well-configured server', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await startRedis({ args: WELL_CONFIGURED })
  })
  afterAll(() => redis?.stop())

  it('finds nothing wrong and exits 0', async () => {
    const report = await runDoctor(redis.url)
    expect(report.summary).toMatchObject({ fail: 0, warn: 0, skipped: 0 })
    expect(report.findings.map((f) => f.id).sort()).toEqual([
      'fragmentation',
      'keyspace-miss-ratio',
      'maxmemory',
      'maxmemory-policy',
      'maxmemory-samples',
      'memory-usage',
    ])
    // A fresh server's fragmentation ratio is meaningless: noted, not judged.
    expect(finding(report, 'fragmentation').measured).toMatch(/not judged: used_memory .* < 64\.00 MB/)
    const { code, stdout } = await runCliCaptured(['doctor', redis.url])
    expect(code).toBe(0)
    expect(stdout).toContain('6 ok, 0 warn, 0 fail, 0 skipped')
  })

  it('fails cluster-mode when --cluster is given for a standalone server', async () => {
    const report = await runDoctor(redis.url, { cluster: true })
    expect(finding(report, 'cluster-mode').severity).toBe('fail')
    expect(report.exitCode).toBe(1)
  })

  it('exits 2 with one line when the password is refused', async () => {
    await redis.client.call('ACL', 'SETUSER', 'someone', 'on', '>right', '+@all', '~*')
    const { code, stdout, stderr } = await runCliCaptured([
      'doctor',
      `redis://someone:wrong@127.0.0.1:${redis.port}`,
    ])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^herdless: cannot connect to 127\.0\.0\.1:\d+: WRONGPASS[^\n]*\n$/)
    expect(stderr).not.toContain('wrong@')
  })
})

describe('doctor when the server cannot be reached', () => {
  it('rejects with ConnectionError in-process and exits 2 with a single line from the CLI', async () => {
    const port = await freePort()
    await expect(runDoctor(`redis://127.0.0.1:${port}`, { timeoutMs: 1000 })).rejects.toBeInstanceOf(
      ConnectionError,
    )
    const { code, stdout, stderr } = await runCliCaptured(['doctor', `redis://127.0.0.1:${port}`])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      `herdless: cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    )
  })

  it('gives up on a server that accepts but never answers after the timeout', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const address = silent.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    try {
      const started = Date.now()
      const { code, stderr } = await runCliCaptured([
        'doctor',
        `redis://127.0.0.1:${port}`,
        '--timeout',
        '300',
      ])
      expect(Date.now() - started).toBeLessThan(1500)
      expect(code).toBe(2)
      expect(stderr).toBe(
        `herdless: cannot connect to 127.0.0.1:${port}: no reply within 300 ms (Command timed out)\n`,
      )
    } finally {
      silent.close()
    }
  })

  it('exits 2 on usage errors', async () => {
    expect((await runCliCaptured(['doctor'])).code).toBe(2)
    expect((await runCliCaptured(['explode', 'redis://x'])).code).toBe(2)
    const unknown = await runCliCaptured(['doctor', 'redis://127.0.0.1:1', '--nope'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('herdless: unknown option --nope')
    expect((await runCliCaptured(['doctor', 'http://127.0.0.1:1'])).code).toBe(2)
    expect((await runCliCaptured(['--help'])).code).toBe(0)
  })
})
