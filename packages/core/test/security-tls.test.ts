import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, type RedisServer, startRedis, uniqueKey, waitUntil } from '@herdless/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheError, createCache } from '../src/index'

/** A throwaway CA, a server certificate it signs (localhost + 127.0.0.1), and an unrelated CA. */
function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const name of ['ca', 'other-ca']) {
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-subj',
      `/CN=Herdless ${name}`,
    )
  }
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  )
  return {
    ca: readFileSync(join(dir, 'ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    files: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') },
  }
}

const CERT_ERRORS = [
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]

/** The `code` of the first error in a cause chain that has a TLS verification code. */
function certCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CERT_ERRORS.includes(code)) return code
  }
  return undefined
}

describe('TLS', () => {
  let dir: string
  let server: RedisServer
  let tlsPort: number
  let certs: ReturnType<typeof makeCerts>
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herdless-tls-'))
    certs = makeCerts(dir)
    tlsPort = await freePort()
    server = await startRedis({
      args: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        certs.files.cert,
        '--tls-key-file',
        certs.files.key,
        '--tls-ca-cert-file',
        certs.files.ca,
        '--tls-auth-clients',
        'no',
      ],
    })
  })
  afterAll(async () => {
    await server?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('getOrSet works over TLS with the right CA (options form and a rediss:// client)', async () => {
    const viaOptions = createCache({
      redis: { host: '127.0.0.1', port: tlsPort, tls: { ca: certs.ca, servername: 'localhost' } },
      prefix: 'tls',
      l1: { max: 10 },
    })
    const client = new Redis(`rediss://127.0.0.1:${tlsPort}`, {
      tls: { ca: certs.ca, servername: 'localhost' },
    })
    const viaUrl = createCache({ redis: client, prefix: 'tls', l1: { max: 10 } })
    const errors: string[] = []
    for (const c of [viaOptions, viaUrl]) c.on('error', (e) => errors.push(e.error.code))
    try {
      const key = uniqueKey('tls')
      let loads = 0
      expect(await viaOptions.getOrSet(key, () => ++loads)).toBe(1)
      expect(await viaUrl.getOrSet(key, () => ++loads)).toBe(1) // from L2, over the other TLS connection
      expect(loads).toBe(1)
      // The TLS port speaks only TLS: the entry really went through it.
      const plain = new Redis(server.port, '127.0.0.1')
      expect(await plain.exists(viaOptions.entryKey(key))).toBe(1)
      await plain.quit()
      expect(errors).toEqual([])
    } finally {
      await Promise.all([viaOptions.close(), viaUrl.close()])
      await client.quit()
    }
  })

  it('a direct ioredis connection with the wrong CA fails certificate verification', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port: tlsPort,
      tls: { ca: certs.otherCa, servername: 'localhost' },
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    const errors: unknown[] = []
    client.on('error', (e: unknown) => errors.push(e))
    const connected = await client.connect().then(
      () => true,
      () => false,
    )
    client.disconnect()
    expect(connected).toBe(false)
    // redis-server sends its chain with the CA in it: Node reports SELF_SIGNED_CERT_IN_CHAIN.
    expect(errors.map(certCode).filter((c) => c !== undefined)).not.toEqual([])
  })

  it.each([
    ['a wrong CA', (port: number, otherCa: Buffer) => ({ host: '127.0.0.1', port, tls: { ca: otherCa } })],
    ['rediss:// with only the system CAs', (port: number) => `rediss://127.0.0.1:${port}`],
  ])('%s: the cache fails open (the loader answers) with coded error events', async (_name, redis) => {
    const cache: Cache = createCache({ redis: redis(tlsPort, certs.otherCa), prefix: 'tls-bad', l1: false })
    const errors: CacheError[] = []
    cache.on('error', (e) => errors.push(e.error))
    try {
      let loads = 0
      for (let i = 0; i < 3; i++) expect(await cache.getOrSet(uniqueKey('bad'), () => ++loads)).toBe(i + 1)
      await waitUntil(
        'a certificate error event',
        () => errors.some((e) => certCode(e) !== undefined) || 'none yet',
        {
          timeoutMs: 5_000,
        },
      )
      for (const e of errors)
        expect(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT', 'E_CIRCUIT_OPEN']).toContain(e.code)
    } finally {
      await cache.close()
    }
  })
})
