import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { CacheableMemory } from 'cacheable'
import { Cluster, Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'
import { Packr } from 'msgpackr'
import { createClient } from 'redis'
import { core } from './core'

/**
 * Every library under test behind one small interface. Each factory builds its contender from
 * the same Setup (same Redis, same TTLs, same L1 size) with the library's closest equivalent
 * options, and returns the exact configuration as text for the results file.
 */
export type ContenderId =
  | 'raw'
  | 'lru'
  | 'herdless'
  | 'herdless-node-redis'
  | 'herdless-ns'
  | 'bentocache'
  | 'bentocache-defaults'
  | 'cache-manager'
  | 'cache-manager-defaults'
  | 'raw-cluster'
  | 'raw-cluster-plain'
  | 'herdless-cluster'

export type Loader = () => unknown

export interface Setup {
  /** redis://127.0.0.1:<port> of the bench's own server. */
  url: string
  /** 'l2': Redis only. 'l1': an in-process tier in front of Redis. */
  tier: 'l2' | 'l1'
  /** Fresh TTL (ms). */
  ttlMs: number
  /** How long a stale copy is kept after ttl (ms), for libraries that keep one; 0 for none. */
  staleMs: number
  /** L1 capacity (entries). */
  l1Max: number
  /** Key prefix (each contender gets its own). */
  prefix: string
  /**
   * cache-manager only: its `refreshThreshold` (refresh in the background when less than this
   * is left of the TTL), the nearest it has to serving stale while one caller refreshes.
   */
  refreshThresholdMs?: number
  /** The *-cluster contenders: startup nodes of the scenario's own Redis Cluster. */
  cluster?: Array<{ host: string; port: number }>
}

export interface Contender {
  readonly id: ContenderId
  /** Row label in the tables. */
  readonly label: string
  /** The exact configuration, as code. */
  readonly config: string
  getOrSet(key: string, loader: Loader): Promise<unknown>
  /** Store a value (used to warm keys and to measure memory). */
  set(key: string, value: unknown): Promise<void>
  /** Which tier answered a hit on `key` ('l1' | 'l2' | 'unknown'), for libraries that say. */
  hitTier?(key: string): Promise<string>
  close(): Promise<void>
}

/** The msgpackr options @herdless/core encodes its envelope with (packages/core/src/entry/envelope.ts). */
export const PACKR_OPTIONS = { useRecords: false, moreTypes: true, mapsAsObjects: true } as const

const LABELS: Record<ContenderId, string> = {
  raw: 'ioredis GET + msgpackr unpack',
  lru: 'bare lru-cache get',
  herdless: 'Herdless',
  'herdless-node-redis': 'Herdless on node-redis 5',
  'herdless-ns': 'Herdless, namespaced (cache.namespace)',
  bentocache: 'BentoCache',
  'bentocache-defaults': 'BentoCache (defaults: serialize)',
  'cache-manager': 'cache-manager',
  'cache-manager-defaults': 'cache-manager (defaults: JSON + clone)',
  'raw-cluster': 'ioredis Cluster GET + unpack (auto-pipelining)',
  'raw-cluster-plain': 'ioredis Cluster GET + unpack (no auto-pipelining)',
  'herdless-cluster': 'Herdless on the cluster (defaults)',
}

export function label(id: ContenderId): string {
  return LABELS[id]
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

export async function createContender(id: ContenderId, s: Setup): Promise<Contender> {
  switch (id) {
    case 'raw':
      return raw(s)
    case 'lru':
      return lru(s)
    case 'herdless':
      return herdless(s)
    case 'herdless-node-redis':
      return herdlessNodeRedis(s)
    case 'herdless-ns':
      return herdless(s, 'tenant-a')
    case 'bentocache':
      return bento(s, false)
    case 'bentocache-defaults':
      return bento(s, true)
    case 'cache-manager':
      return cacheManager(s, false)
    case 'cache-manager-defaults':
      return cacheManager(s, true)
    case 'raw-cluster':
      return rawCluster(s, true)
    case 'raw-cluster-plain':
      return rawCluster(s, false)
    case 'herdless-cluster':
      return herdlessCluster(s)
  }
}

/** The raw contenders' calls on a bare client (Redis or Cluster): GET + unpack; on a miss load, pack, SET PX. */
function cacheAside(redis: Redis | Cluster, s: Setup): Pick<Contender, 'getOrSet' | 'set' | 'close'> {
  const packr = new Packr(PACKR_OPTIONS)
  const px = s.ttlMs
  const k = (key: string) => `${s.prefix}:${key}`
  return {
    async getOrSet(key, loader) {
      const bytes = await redis.getBuffer(k(key))
      if (bytes !== null) return packr.unpack(bytes)
      const value = await loader()
      await redis.set(k(key), packr.pack(value), 'PX', px)
      return value
    },
    async set(key, value) {
      await redis.set(k(key), packr.pack(value), 'PX', px)
    },
    async close() {
      await redis.quit()
    },
  }
}

/** Naive cache-aside on a bare client: GET + unpack; on a miss load, pack, SET PX. No protection at all. */
function raw(s: Setup): Contender {
  const redis = new Redis(s.url, { enableAutoPipelining: true })
  const px = s.ttlMs
  return {
    id: 'raw',
    label: LABELS.raw,
    config: [
      `const redis = new Redis(url, { enableAutoPipelining: true })`,
      `const packr = new Packr(${JSON.stringify(PACKR_OPTIONS)}) // what @herdless/core uses`,
      `// getOrSet: GET -> packr.unpack; miss: value = await loader(); SET key packr.pack(value) PX ${px}`,
    ].join('\n'),
    ...cacheAside(redis, s),
  }
}

function clusterNodes(s: Setup): Array<{ host: string; port: number }> {
  if (s.cluster === undefined || s.cluster.length === 0)
    throw new Error('a *-cluster contender needs setup.cluster')
  return s.cluster
}

/** The raw floor on a Redis Cluster: ioredis Cluster getBuffer + unpack, nothing else. */
async function rawCluster(s: Setup, autoPipelining: boolean): Promise<Contender> {
  const redis = new Cluster(clusterNodes(s), { enableAutoPipelining: autoPipelining })
  await redis.ping() // slot map loaded before the clock starts
  const px = s.ttlMs
  const id: ContenderId = autoPipelining ? 'raw-cluster' : 'raw-cluster-plain'
  return {
    id,
    label: LABELS[id],
    config: [
      `const redis = new Cluster(startupNodes, { enableAutoPipelining: ${autoPipelining} })`,
      `const packr = new Packr(${JSON.stringify(PACKR_OPTIONS)})`,
      `// getOrSet: GET -> packr.unpack; miss: value = await loader(); SET key packr.pack(value) PX ${px}`,
    ].join('\n'),
    ...cacheAside(redis, s),
  }
}

/** Herdless with its defaults on the cluster: `redis: { cluster: startupNodes }`, no L1. */
function herdlessCluster(s: Setup): Contender {
  const options = { prefix: s.prefix, ttl: s.ttlMs, staleTtl: s.staleMs, l1: false as const }
  const cache = core.createCache({ redis: { cluster: clusterNodes(s) }, ...options })
  return {
    id: 'herdless-cluster',
    label: LABELS['herdless-cluster'],
    config: [
      `createCache(${JSON.stringify({ redis: { cluster: 'startupNodes' }, ...options }).replace('"startupNodes"', 'startupNodes')})`,
      `// the Cluster Herdless builds: enableAutoPipelining false (ioredis#2075); bus on (the default)`,
    ].join('\n'),
    getOrSet: (key, loader) => cache.getOrSet(key, loader),
    set: (key, value) => cache.set(key, value),
    close: () => cache.close(),
  }
}

/** The L1 floor: a bare lru-cache holding decoded objects, behind an async function. */
function lru(s: Setup): Contender {
  const cache = new LRUCache<string, object>({ max: s.l1Max })
  return {
    id: 'lru',
    label: LABELS.lru,
    config: `const lru = new LRUCache({ max: ${s.l1Max} })\n// getOrSet: async (key, loader) => lru.get(key) ?? (lru.set(key, v = await loader()), v)`,
    async getOrSet(key, loader) {
      const hit = cache.get(key)
      if (hit !== undefined) return hit
      const value = (await loader()) as object
      cache.set(key, value)
      return value
    },
    async set(key, value) {
      cache.set(key, value as object)
    },
    async close() {
      cache.clear()
    },
  }
}

function herdless(s: Setup, namespace?: string): Contender {
  const options = {
    redis: s.url,
    prefix: s.prefix,
    ttl: s.ttlMs,
    staleTtl: s.staleMs,
    l1: s.tier === 'l1' ? { max: s.l1Max } : false,
  }
  const root = core.createCache(options)
  const cache = namespace === undefined ? root : root.namespace(namespace)
  return {
    id: namespace === undefined ? 'herdless' : 'herdless-ns',
    label: namespace === undefined ? LABELS.herdless : LABELS['herdless-ns'],
    config: [
      `createCache(${JSON.stringify({ ...options, redis: 'url' }).replace('"url"', 'url')})${namespace === undefined ? '' : `.namespace('${namespace}')`}`,
      `// everything else default: jitter 0.1, earlyRefresh { beta: 1 }, staleWhileRevalidate, lock { ttl: '10s', wait: '5s' },`,
      `// redisTimeout '250ms', breaker on; the client Herdless builds from a URL has enableAutoPipelining: true.`,
      s.tier === 'l1' ? `// with Redis + L1 the invalidation bus is on by default` : '',
    ]
      .filter(Boolean)
      .join('\n'),
    getOrSet: (key, loader) => cache.getOrSet(key, loader),
    set: (key, value) => cache.set(key, value),
    hitTier(key) {
      return new Promise((resolve) => {
        let tier = 'unknown'
        const listener = (e: { key: string; tier: string }) => {
          if (e.key === key) tier = e.tier
        }
        cache.on('hit', listener)
        cache
          .getOrSet(key, () => null)
          .then(
            () => {
              cache.off('hit', listener)
              resolve(tier)
            },
            () => {
              cache.off('hit', listener)
              resolve('error')
            },
          )
      })
    },
    close: () => root.close(),
  }
}

/** Herdless handed a connected node-redis 5 client (same options otherwise): the client seam's other side. */
async function herdlessNodeRedis(s: Setup): Promise<Contender> {
  const client = createClient({ url: s.url })
  client.on('error', () => {})
  await client.connect()
  const options = {
    prefix: s.prefix,
    ttl: s.ttlMs,
    staleTtl: s.staleMs,
    l1: s.tier === 'l1' ? { max: s.l1Max } : false,
  }
  const cache = core.createCache({ redis: client, ...options })
  return {
    id: 'herdless-node-redis',
    label: LABELS['herdless-node-redis'],
    config: [
      `const client = await createClient({ url }).connect() // redis ${'5'}; pipelines one tick's commands by itself`,
      `createCache(${JSON.stringify({ redis: 'client', ...options }).replace('"client"', 'client')})`,
    ].join('\n'),
    getOrSet: (key, loader) => cache.getOrSet(key, loader),
    set: (key, value) => cache.set(key, value),
    async close() {
      await cache.close()
      await client.close()
    },
  }
}

/**
 * BentoCache: JSON serializer (its serializer contract returns strings, so msgpack is out),
 * ttl + grace for the stale copy, soft timeout 0 (a graced value is returned at once while the
 * factory runs in the background: its stale-while-revalidate).
 */
function bento(s: Setup, defaults: boolean): Contender {
  const { host, port } = hostPort(s.url)
  const grace = s.staleMs > 0 ? s.staleMs : false
  let store = bentostore()
  const lines: string[] = ['bentostore()']
  if (s.tier === 'l1') {
    store = store.useL1Layer(
      defaults ? memoryDriver({ maxItems: s.l1Max }) : memoryDriver({ maxItems: s.l1Max, serialize: false }),
    )
    lines.push(
      defaults
        ? `  .useL1Layer(memoryDriver({ maxItems: ${s.l1Max} })) // serialize: true (default): JSON.parse per hit`
        : `  .useL1Layer(memoryDriver({ maxItems: ${s.l1Max}, serialize: false })) // holds objects, like Herdless`,
    )
  }
  store = store.useL2Layer(redisDriver({ connection: { host, port, enableAutoPipelining: true } }))
  lines.push(`  .useL2Layer(redisDriver({ connection: { host, port, enableAutoPipelining: true } }))`)
  if (s.tier === 'l1') {
    store = store.useBus(redisBusDriver({ connection: { host, port } }))
    lines.push(
      `  .useBus(redisBusDriver({ connection: { host, port } })) // L1 coherence, like Herdless's bus`,
    )
  }
  const bentoCache = new BentoCache({
    default: 'cache',
    prefix: s.prefix,
    ttl: s.ttlMs,
    grace,
    timeout: 0,
    stores: { cache: store },
  })
  return {
    id: defaults ? 'bentocache-defaults' : 'bentocache',
    label: LABELS[defaults ? 'bentocache-defaults' : 'bentocache'],
    config: [
      `new BentoCache({ default: 'cache', prefix: '${s.prefix}', ttl: ${s.ttlMs}, grace: ${grace}, timeout: 0,`,
      `  stores: { cache: ${lines.join('\n    ')} } })`,
      `// getOrSet({ key, factory }); serializer: the default (JSON)`,
    ].join('\n'),
    getOrSet: (key, loader) => bentoCache.getOrSet({ key, factory: loader }),
    async set(key, value) {
      await bentoCache.set({ key, value })
    },
    async close() {
      await bentoCache.disconnectAll()
    },
  }
}

/**
 * cache-manager 7 on Keyv: @keyv/redis (node-redis, which pipelines every command issued in
 * one tick: its auto-pipelining) with Keyv's JSON serializer; for L1 a CacheableMemory LRU
 * store in front, as cache-manager's README shows.
 */
function cacheManager(s: Setup, defaults: boolean): Contender {
  const redisStore = new Keyv({ store: new KeyvRedis(s.url), namespace: s.prefix, useKeyPrefix: false })
  const stores: Keyv[] = []
  const lines: string[] = []
  if (s.tier === 'l1') {
    if (defaults) {
      stores.push(new Keyv({ store: new CacheableMemory({ lruSize: s.l1Max }) }))
      lines.push(
        `new Keyv({ store: new CacheableMemory({ lruSize: ${s.l1Max} }) }), // defaults: JSON string per entry, useClone: true`,
      )
    } else {
      stores.push(
        new Keyv({
          store: new CacheableMemory({ lruSize: s.l1Max, useClone: false }),
          serialize: undefined,
          deserialize: undefined,
        }),
      )
      lines.push(
        `new Keyv({ store: new CacheableMemory({ lruSize: ${s.l1Max}, useClone: false }), serialize: undefined, deserialize: undefined }), // objects, like Herdless`,
      )
    }
  }
  stores.push(redisStore)
  lines.push(
    `new Keyv({ store: new KeyvRedis(url), namespace: '${s.prefix}', useKeyPrefix: false }), // JSON`,
  )
  const refreshThreshold = s.refreshThresholdMs
  const cache = createCacheManager({
    stores,
    ttl: s.ttlMs,
    ...(refreshThreshold === undefined ? {} : { refreshThreshold }),
  })
  const id: ContenderId = defaults ? 'cache-manager-defaults' : 'cache-manager'
  return {
    id,
    label: LABELS[id],
    config: [
      `createCache({ ttl: ${s.ttlMs},${refreshThreshold === undefined ? '' : ` refreshThreshold: ${refreshThreshold},`} stores: [`,
      ...lines.map((l) => `  ${l}`),
      `] }) // getOrSet = cache.wrap(key, loader)`,
      refreshThreshold === undefined
        ? ''
        : `// no stale copy exists in cache-manager: refreshThreshold (refresh in the background when less than ${refreshThreshold} ms is left) is its stale-while-revalidate`,
    ]
      .filter(Boolean)
      .join('\n'),
    getOrSet: (key, loader) => cache.wrap(key, loader),
    async set(key, value) {
      await cache.set(key, value)
    },
    async close() {
      await cache.disconnect()
    },
  }
}
