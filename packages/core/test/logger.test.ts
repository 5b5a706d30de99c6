import { freePort, sharedRedis, uniqueKey, uniquePrefix, waitUntil } from '@herdless/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Cache, createCache, type Logger } from '../src/index'

interface Line {
  level: 'warn' | 'error' | 'debug'
  obj: { code?: string; err?: Error }
  msg: string
}
function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = []
  const at = (level: Line['level']) => (obj: object, msg?: string) => {
    lines.push({ level, obj: obj as Line['obj'], msg: msg ?? '' })
  }
  return { logger: { warn: at('warn'), error: at('error'), debug: at('debug') }, lines }
}

describe('being heard when Redis fails open', () => {
  const caches: Cache[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(caches.splice(0).map((c) => c.close()))
  })

  it('warns the logger once per cause with the address, the rest at debug', async () => {
    const port = await freePort()
    const { logger, lines } = recorder()
    const cache = createCache({
      redis: `redis://127.0.0.1:${port}`,
      prefix: uniquePrefix(),
      l1: true,
      logger,
    })
    caches.push(cache)
    for (let i = 0; i < 20; i++) expect(await cache.getOrSet(uniqueKey('dead'), () => i)).toBe(i)
    // The bus subscriber fails too; its failure is the same cause (Redis unusable).
    await waitUntil('the bus failure to be logged', () =>
      lines.some((l) => l.obj.err?.message.includes('Invalidation bus')) ? true : 'not yet',
    )
    const warns = lines.filter((l) => l.level === 'warn')
    expect(warns).toHaveLength(1)
    expect(warns[0]?.msg).toContain(`Redis unreachable at 127.0.0.1:${port}`)
    expect(warns[0]?.msg).toContain('serving from the loader')
    expect(lines.filter((l) => l.level === 'debug').length).toBeGreaterThan(0)
    const texts = lines.map((l) => `${l.msg} ${l.obj.err?.message ?? ''}`)
    expect(texts.some((t) => t.includes('Invalidation bus failed'))).toBe(true)
    expect(texts.some((t) => t.includes('bus bus'))).toBe(false)
  })

  it('without a logger or an error listener, says it once on the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const port = await freePort()
    const cache = createCache({ redis: `redis://127.0.0.1:${port}`, prefix: uniquePrefix() })
    caches.push(cache)
    for (let i = 0; i < 20; i++) expect(await cache.getOrSet(uniqueKey('quiet'), () => i)).toBe(i)
    const ours = warn.mock.calls.map((c) => String(c[0])).filter((t) => t.startsWith('[herdless]'))
    expect(ours).toHaveLength(1)
    expect(ours[0]).toContain(`Redis unreachable at 127.0.0.1:${port}`)
  })

  it('stays quiet on the console when someone listens for error, or with logger: false', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const port = await freePort()
    const heard: string[] = []
    const listened = createCache({ redis: `redis://127.0.0.1:${port}`, prefix: uniquePrefix() })
    listened.on('error', (e) => heard.push(e.error.code))
    const silent = createCache({ redis: `redis://127.0.0.1:${port}`, prefix: uniquePrefix(), logger: false })
    caches.push(listened, silent)
    for (let i = 0; i < 5; i++) {
      expect(await listened.getOrSet(uniqueKey('l'), () => i)).toBe(i)
      expect(await silent.getOrSet(uniqueKey('s'), () => i)).toBe(i)
    }
    expect(heard.length).toBeGreaterThan(0)
    expect(warn.mock.calls.filter((c) => String(c[0]).startsWith('[herdless]'))).toHaveLength(0)
  })

  it('sends other causes to the logger too, one warn each (a value that cannot be stored)', async () => {
    const { logger, lines } = recorder()
    const cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix(), logger, maxValueBytes: 64 })
    caches.push(cache)
    for (let i = 0; i < 5; i++) await cache.getOrSet(uniqueKey('big'), () => 'x'.repeat(1_000))
    const warns = lines.filter((l) => l.level === 'warn')
    expect(warns.map((l) => l.obj.code)).toEqual(['E_VALUE_TOO_LARGE'])
    expect(lines.filter((l) => l.level === 'debug' && l.obj.code === 'E_VALUE_TOO_LARGE')).toHaveLength(4)
  })
})
