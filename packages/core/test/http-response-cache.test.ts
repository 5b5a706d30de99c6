import {
  type Cache,
  type CacheOutcome,
  createCache,
  createResponseCache,
  type HandlerResult,
  type HttpRequestInfo,
  isCacheError,
  isStoredResponse,
  type LookupPlan,
  type ResponseCache,
  type ResponseCacheOptions,
} from '@herdless/core'
import { sharedRedis, uniquePrefix } from '@herdless/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
})

function setup(options: Partial<ResponseCacheOptions> = {}): { cache: Cache; rc: ResponseCache } {
  const cache = createCache({ redis: sharedRedis().url, prefix: uniquePrefix() })
  caches.push(cache)
  return { cache, rc: createResponseCache({ cache, ttl: '1m', jitter: 0, ...options }) }
}

function get(url: string, headers: HttpRequestInfo['headers'] = {}, method = 'GET'): HttpRequestInfo {
  return { method, url, headers }
}

function eligible(rc: ResponseCache, req: HttpRequestInfo): LookupPlan {
  const plan = rc.plan(req)
  if (!plan.eligible) throw new Error(`expected an eligible plan, got ${plan.reason}`)
  return plan
}

function ok(body: string, headers: Record<string, string | string[]> = {}, status = 200): HandlerResult {
  return {
    kind: 'captured',
    status,
    headers: { 'content-type': 'text/plain', ...headers },
    body: Buffer.from(body),
  }
}

/** A handler that counts its runs; `run` is the live request's, `refresh` a detached copy's. */
function producer(make: (n: number) => HandlerResult | Promise<HandlerResult>) {
  const counts = { run: 0, refresh: 0 }
  return {
    counts,
    producers: {
      run: async () => make(++counts.run + counts.refresh),
      refresh: async () => make(counts.run + ++counts.refresh),
    },
  }
}

function body(o: CacheOutcome): string {
  if (o.kind !== 'response') throw new Error(`expected a response outcome, got ${o.kind}`)
  return Buffer.from(o.response.body).toString()
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('plan', () => {
  it('bypasses non-GET/HEAD, Authorization, Range; no-store only when asked to respect it', () => {
    const { rc } = setup()
    expect(rc.plan(get('/a', {}, 'POST'))).toEqual({
      eligible: false,
      reason: 'method',
      headers: { 'x-cache': 'BYPASS' },
    })
    expect(rc.plan(get('/a', { authorization: 'Bearer x' }))).toEqual({
      eligible: false,
      reason: 'authorization',
      headers: { 'x-cache': 'BYPASS' },
    })
    expect(rc.plan(get('/a', { cookie: 'session=a' }))).toMatchObject({ eligible: false, reason: 'cookie' })
    expect(rc.plan(get('/a', { range: 'bytes=0-1' }))).toEqual({
      eligible: false,
      reason: 'range',
      headers: { 'x-cache': 'BYPASS' },
    })
    expect(rc.plan(get('/a', { 'cache-control': 'no-store' })).eligible).toBe(true)
    const respectful = rc.plan(get('/a', { 'cache-control': 'no-store' }), {
      route: { respectRequestCacheControl: true },
    })
    expect(respectful).toEqual({ eligible: false, reason: 'no-store', headers: { 'x-cache': 'BYPASS' } })
    const refresh = eligible(
      createResponseCache({ cache: caches[0] as Cache, respectRequestCacheControl: true }),
      get('/a', { pragma: 'no-cache' }),
    )
    expect(refresh.refresh).toBe(true)
  })

  it('keys on method, normalized path, sorted query and vary headers; HEAD shares the GET key', () => {
    const { rc } = setup({ vary: ['Accept-Language'] })
    const k = (url: string, h: HttpRequestInfo['headers'] = {}, m = 'GET') => eligible(rc, get(url, h, m)).key
    expect(k('/p?b=2&a=1', { 'accept-language': 'en' })).toBe('http:GET:/p?a=1&b=2#accept-language=en')
    expect(k('/p?a=1&b=2', { 'accept-language': ' en ' }, 'HEAD')).toBe(
      k('/p?b=2&a=1', { 'accept-language': 'en' }),
    )
    expect(k('/%7euser/%2f?q=a+b')).toBe(k('/~user/%2F?q=a%20b'))
    expect(k('/p?a=1&a=2')).not.toBe(k('/p?a=2&a=1'))
    expect(k('/p/')).not.toBe(k('/p'))
    expect(k('/p', { 'accept-language': 'fr' })).not.toBe(k('/p', { 'accept-language': 'en' }))
    const long = k(`/p?${'x'.repeat(2_000)}`)
    expect(long.length).toBeLessThan(400)
    expect(long.startsWith('http:GET:/p~')).toBe(true)
  })

  it('key() overrides the default key; a bad return value is a coded error', () => {
    const { cache } = setup()
    const rc = createResponseCache({
      cache,
      key: (req) => (req.url.startsWith('/u/') ? `user:${req.url.slice(3)}` : undefined),
    })
    expect(eligible(rc, get('/u/7?x=1')).key).toBe('http:user:7?x=1')
    expect(eligible(rc, get('/other')).key).toBe('http:GET:/other')
    const bad = createResponseCache({ cache, key: () => '' })
    expect(() => bad.plan(get('/x'))).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
  })

  it('rejects bad options with E_INVALID_OPTION naming the option', () => {
    const { cache } = setup()
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ttl: -1 }, /ttl/],
      [{ jitter: 1 }, /jitter/],
      [{ statuses: [] }, /statuses/],
      [{ vary: ['a b'] }, /vary/],
      [{ headers: ['Connection'] }, /headers/],
      [{ maxBodyBytes: 1.5 }, /maxBodyBytes/],
      [{ tags: [''] }, /tags/],
      [{ refreshTimeout: 'later' }, /refreshTimeout/],
      [{ namespace: 'a:b' }, /namespace/],
      [{ ttll: 1 }, /ttll/],
    ]
    for (const [options, message] of bad) {
      let error: unknown
      try {
        createResponseCache({ cache, ...options } as ResponseCacheOptions)
      } catch (err) {
        error = err
      }
      expect(isCacheError(error, 'E_INVALID_OPTION'), JSON.stringify(options)).toBe(true)
      expect(String(error)).toMatch(message)
    }
    const rc = createResponseCache({ cache })
    expect(() => rc.route({ ttl: 'x' })).toThrow(/route cache options\.ttl/)
  })
})

describe('lookup', () => {
  it('MISS runs the handler once, HIT serves the stored copy with Age, ETag and safe headers only', async () => {
    const { rc } = setup({ headers: ['x-total'] })
    const p = producer((n) =>
      ok(`v${n}`, { 'x-total': '3', 'x-secret': 'no', connection: 'close', etag: '"e1"' }),
    )
    const plan = eligible(rc, get('/a'))
    const miss = await rc.lookup(plan, p.producers)
    expect(miss).toMatchObject({ kind: 'response', xCache: 'MISS', own: true, status: 200 })
    const hit = await rc.lookup(plan, p.producers)
    expect(hit).toMatchObject({ kind: 'response', xCache: 'HIT', own: false })
    if (hit.kind !== 'response') throw new Error('unreachable')
    expect(hit.headers).toEqual({
      'content-type': 'text/plain',
      'x-total': '3',
      etag: '"e1"',
      'content-length': '2',
      'x-cache': 'HIT',
      age: '0',
    })
    expect(body(hit)).toBe('v1')
    expect(p.counts).toEqual({ run: 1, refresh: 0 })
  })

  it('computes a weak ETag when the handler set none, and answers If-None-Match with 304', async () => {
    const { rc } = setup()
    const p = producer(() => ok('body'))
    const first = await rc.lookup(eligible(rc, get('/e')), p.producers)
    if (first.kind !== 'response') throw new Error('expected a response')
    expect(first.response.etag).toMatch(/^W\/"[\w-]+"$/)
    const cond = await rc.lookup(
      eligible(rc, get('/e', { 'if-none-match': first.response.etag })),
      p.producers,
    )
    expect(cond).toMatchObject({ kind: 'response', notModified: true, status: 304, xCache: 'HIT' })
    if (cond.kind !== 'response') throw new Error('unreachable')
    expect(Object.keys(cond.headers).sort()).toEqual(['age', 'etag', 'x-cache'])
    expect(cond.removeHeaders).toContain('content-type')
    expect(p.counts.run).toBe(1)
  })

  it('concurrent identical lookups run the handler once; the others wait (MISS)', async () => {
    const { rc } = setup()
    const p = producer(async (n) => {
      await sleep(100)
      return ok(`v${n}`)
    })
    const plan = eligible(rc, get('/c'))
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => rc.lookup(plan, p.producers)))
    expect(p.counts).toEqual({ run: 1, refresh: 0 })
    expect(outcomes.filter((o) => o.kind === 'response' && o.own)).toHaveLength(1)
    expect(outcomes.every((o) => o.kind === 'response' && o.xCache === 'MISS' && body(o) === 'v1')).toBe(true)
  })

  it('a response that must not be shared sends followers to run their own handler', async () => {
    const { rc } = setup()
    const p = producer(async (n) => {
      await sleep(100)
      return ok(`v${n}`, { 'set-cookie': `s=${n}` })
    })
    const plan = eligible(rc, get('/private'))
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => rc.lookup(plan, p.producers)))
    expect(outcomes.filter((o) => o.kind === 'own')).toHaveLength(1)
    expect(outcomes.filter((o) => o.kind === 'run')).toHaveLength(4)
    expect(p.counts.run).toBe(1)
  })

  it.each([
    ['Set-Cookie', ok('x', { 'set-cookie': 'a=1' })],
    ['no-store', ok('x', { 'cache-control': 'no-store' })],
    ['private', ok('x', { 'cache-control': 'private="set-cookie", max-age=5' })],
    ['Vary: *', ok('x', { vary: 'Accept, *' })],
    ['a 404', ok('x', {}, 404)],
    ['a body over maxBodyBytes', ok('x'.repeat(101))],
    ['a stream', { kind: 'streamed' } as HandlerResult],
  ])('never stores %s', async (_label, result) => {
    const { rc } = setup({ maxBodyBytes: 100 })
    const p = producer(() => result)
    const plan = eligible(rc, get('/n'))
    const a = await rc.lookup(plan, p.producers)
    const b = await rc.lookup(plan, p.producers)
    expect(a.kind).toBe('own')
    expect(b.kind).toBe('own')
    expect(p.counts.run).toBe(2)
    expect(await rc.entries.get(plan.key)).toBeUndefined()
  })

  it('HEAD fills the GET entry through refresh(), never through the live request', async () => {
    const { rc } = setup()
    const p = producer((n) => ok(`v${n}`))
    const head = await rc.lookup(eligible(rc, get('/h', {}, 'HEAD')), { refresh: p.producers.refresh })
    expect(head).toMatchObject({ kind: 'response', xCache: 'MISS', own: false })
    const hit = await rc.lookup(eligible(rc, get('/h')), p.producers)
    expect(hit).toMatchObject({ kind: 'response', xCache: 'HIT' })
    expect(p.counts).toEqual({ run: 0, refresh: 1 })
  })

  it('STALE: served at once, refreshed once through refresh(), then HIT with the new copy', async () => {
    const { rc } = setup({ ttl: 200, staleTtl: '1m' })
    const p = producer((n) => ok(`v${n}`))
    const plan = eligible(rc, get('/s'))
    await rc.lookup(plan, p.producers)
    await sleep(250)
    const stale = await Promise.all(Array.from({ length: 5 }, () => rc.lookup(plan, p.producers)))
    expect(stale.every((o) => o.kind === 'response' && o.xCache === 'STALE' && body(o) === 'v1')).toBe(true)
    for (let i = 0; i < 100 && p.counts.refresh === 0; i++) await sleep(20)
    await sleep(50)
    const fresh = await rc.lookup(plan, p.producers)
    expect(fresh).toMatchObject({ xCache: 'HIT' })
    expect(body(fresh)).toBe('v2')
    expect(p.counts).toEqual({ run: 1, refresh: 1 })
  })

  it('stale-if-error: a 5xx (or 429) from the handler serves the stale copy; without one it passes through', async () => {
    const { rc } = setup({ ttl: 100, staleTtl: '1m', tags: ['t'] })
    let status = 200
    const p = producer((n) => ok(`v${n}`, {}, status))
    const plan = eligible(rc, get('/f'))
    await rc.lookup(plan, p.producers)
    status = 503
    await rc.entries.invalidateTags(['t'])
    const own = await rc.lookup(plan, p.producers) // foreground: this request's handler failed
    expect(own).toMatchObject({ kind: 'response', xCache: 'STALE', own: false, status: 200 })
    if (own.kind !== 'response') throw new Error('unreachable')
    expect(own.removeHeaders).toContain('content-type')
    expect(body(own)).toBe('v1')
    const fresh = eligible(rc, get('/f?new'))
    const passed = await rc.lookup(fresh, p.producers)
    expect(passed).toMatchObject({ kind: 'own' })
    expect(p.counts.run).toBe(3)
  })

  it('an abandoned refresh (refreshTimeout) keeps the stale copy', async () => {
    const { rc } = setup({ ttl: 100, staleTtl: '1m', refreshTimeout: 100 })
    let aborted = 0
    const plan = eligible(rc, get('/slow'))
    await rc.lookup(plan, { run: async () => ok('v1'), refresh: async () => ok('unused') })
    await sleep(150)
    const hang = (signal: AbortSignal) =>
      new Promise<HandlerResult>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted++
          resolve(ok('too late'))
        })
      })
    const stale = await rc.lookup(plan, { run: async () => ok('unused'), refresh: hang })
    expect(stale).toMatchObject({ xCache: 'STALE' })
    for (let i = 0; i < 50 && aborted === 0; i++) await sleep(20)
    expect(aborted).toBe(1)
    const still = await rc.lookup(plan, { run: async () => ok('unused'), refresh: hang })
    expect(body(still)).toBe('v1')
  })

  it('tags reach the entry (route tags and per-request tags) and invalidate() removes by tag, path and key', async () => {
    const { cache, rc } = setup({ tags: ['catalog'] })
    const p = producer((n) => ok(`v${n}`))
    const a = eligible(rc, get('/products?page=1'))
    const b = rc.plan(get('/products?page=2'), { tags: ['page-2'] })
    if (!b.eligible) throw new Error('unreachable')
    await rc.lookup(a, p.producers)
    await rc.lookup(b, p.producers)
    expect((await cache.inspect(b.key))?.tags).toEqual(['catalog', 'page-2'])
    await rc.invalidate({ tags: 'page-2' })
    expect(await rc.lookup(a, p.producers)).toMatchObject({ xCache: 'HIT' })
    expect(await rc.lookup(b, p.producers)).toMatchObject({ xCache: 'MISS' })
    // A path is not a prefix: /products-archive survives invalidating /products.
    const archive = eligible(rc, get('/products-archive'))
    await rc.lookup(archive, p.producers)
    await rc.invalidate({ paths: ['/products'] })
    expect(await cache.get(a.key)).toBeUndefined()
    expect(await cache.get(b.key)).toBeUndefined()
    expect(await cache.get(archive.key)).toBeDefined()
    const keyed = createResponseCache({ cache, key: () => 'fixed' })
    const k = eligible(keyed, get('/anything'))
    await keyed.lookup(k, p.producers)
    await keyed.invalidate({ keys: 'fixed' })
    expect(await cache.get(k.key)).toBeUndefined()
    await expect(rc.invalidate({ tags: [''] })).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
  })

  it('stored values are plain data, and namespace keeps them apart', async () => {
    const { cache } = setup()
    const rc = createResponseCache({ cache, namespace: 'web' })
    const plan = eligible(rc, get('/n'))
    await rc.lookup(plan, producer(() => ok('x')).producers)
    expect(await cache.get(plan.key)).toBeUndefined()
    const stored = await cache.namespace('web').get(plan.key)
    expect(isStoredResponse(stored)).toBe(true)
    expect(stored).toMatchObject({ status: 200, headers: { 'content-type': 'text/plain' } })
  })

  it('fails open: a closed cache runs the handler and reports the error', async () => {
    const errors: unknown[] = []
    const { cache } = setup()
    const rc = createResponseCache({ cache, onError: (e) => errors.push(e) })
    await cache.close()
    const p = producer(() => ok('x'))
    const outcome = await rc.lookup(eligible(rc, get('/closed')), p.producers)
    expect(outcome).toEqual({ kind: 'run', xCache: 'MISS', headers: { 'x-cache': 'MISS' } })
    expect(p.counts.run).toBe(0)
    expect(isCacheError(errors[0], 'E_CLOSED')).toBe(true)
  })
})
