import { setTimeout as sleep } from 'node:timers/promises'
import { Packr } from 'msgpackr'
import { type ContenderId, createContender, label, PACKR_OPTIONS, type Setup } from '../contenders'
import type { Plan } from '../plan'
import { type Bar, type BenchContext, fmtBytes, type ScenarioResult } from '../types'
import { makeValue, VALUE_JSON_BYTES } from '../value'

const HOUR = 3_600_000
const WARM = 200

interface RedisRow {
  id: ContenderId
  keys: number
  memoryUsage: number
  strlen: number
}

interface HeapRow {
  label: string
  id: ContenderId | 'array'
  perEntry: number
}

function setupFor(ctx: BenchContext, tier: 'l1' | 'l2', l1Max: number): Setup {
  return { url: ctx.url, tier, ttlMs: HOUR, staleMs: HOUR, l1Max, prefix: 'm' }
}

async function allKeys(ctx: BenchContext): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await ctx.admin.scan(cursor, 'COUNT', 1000)
    cursor = next
    out.push(...keys)
  } while (cursor !== '0')
  return out
}

async function redisBytes(ctx: BenchContext, id: ContenderId, n: number): Promise<RedisRow> {
  await ctx.admin.flushall()
  const c = await createContender(id, setupFor(ctx, 'l2', 10_000))
  try {
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, j) => c.set(`user:${i + j}`, makeValue(i + j))),
      )
    }
  } finally {
    await c.close()
  }
  const keys = await allKeys(ctx)
  let memoryUsage = 0
  let strlen = 0
  let strings = 0
  const pipe = ctx.admin.pipeline()
  for (const k of keys) {
    pipe.memory('USAGE', k, 'SAMPLES', 0)
    pipe.type(k)
    pipe.strlen(k)
  }
  const res = (await pipe.exec()) ?? []
  for (let i = 0; i < keys.length; i++) {
    const mu = res[i * 3]?.[1]
    const type = res[i * 3 + 1]?.[1]
    const len = res[i * 3 + 2]?.[1]
    if (typeof mu === 'number') memoryUsage += mu
    if (type === 'string' && typeof len === 'number') {
      strlen += len
      strings++
    }
  }
  await ctx.admin.flushall()
  return {
    id,
    keys: keys.length,
    memoryUsage: memoryUsage / Math.max(1, n),
    strlen: strlen / Math.max(1, strings),
  }
}

function heapUsed(gc: () => void): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function heapPerEntry(ctx: BenchContext, id: ContenderId, n: number, gc: () => void): Promise<number> {
  await ctx.admin.flushall()
  const c = await createContender(id, setupFor(ctx, 'l1', n + WARM + 100))
  try {
    // Let lazily built internals (connections, script caches, timers) exist before measuring.
    for (let i = 0; i < WARM; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => c.getOrSet(`warm:${i + j}`, () => makeValue(i + j))),
      )
    }
    await sleep(100)
    const before = heapUsed(gc)
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, j) =>
          c.getOrSet(`user:${i + j}`, () => makeValue(i + j)),
        ),
      )
    }
    await sleep(200)
    const after = heapUsed(gc)
    return (after - before) / n
  } finally {
    await c.close()
    await ctx.admin.flushall()
  }
}

/** 6. Memory: Redis bytes per entry (MEMORY USAGE) and heap bytes per L1 entry. */
export async function memory(ctx: BenchContext, plan: Plan): Promise<ScenarioResult> {
  const n = plan.memory.redisEntries
  const redisRows: RedisRow[] = []
  for (const id of ['raw', 'herdless', 'bentocache', 'cache-manager'] as const) {
    redisRows.push(await redisBytes(ctx, id, n))
    ctx.log(
      `    redis  ${label(id).padEnd(52)} ${fmtBytes(redisRows.at(-1)?.memoryUsage ?? Number.NaN)} per entry`,
    )
  }
  const gc = (globalThis as { gc?: () => void }).gc
  const heapRows: HeapRow[] = []
  const hn = plan.memory.heapEntries
  if (gc !== undefined) {
    const before = heapUsed(gc)
    const arr = Array.from({ length: hn }, (_, i) => makeValue(i))
    const after = heapUsed(gc)
    heapRows.push({
      label: 'the value alone (objects in an array)',
      id: 'array',
      perEntry: (after - before) / hn,
    })
    arr.length = 0
    for (const id of [
      'lru',
      'herdless',
      'bentocache',
      'bentocache-defaults',
      'cache-manager',
      'cache-manager-defaults',
    ] as const) {
      heapRows.push({ label: label(id), id, perEntry: await heapPerEntry(ctx, id, hn, gc) })
      ctx.log(
        `    heap   ${label(id).padEnd(52)} ${fmtBytes(heapRows.at(-1)?.perEntry ?? Number.NaN)} per entry`,
      )
    }
  }
  const base = redisRows[0]
  const msgpackBytes = new Packr(PACKR_OPTIONS).pack(makeValue(1234)).length
  const rows: string[][] = [
    ...redisRows.map((r) => [
      `Redis: ${label(r.id)}${r === base ? ' (baseline)' : ''}`,
      fmtBytes(r.memoryUsage),
      fmtBytes(r.strlen),
      `${((r.memoryUsage / (base?.memoryUsage ?? Number.NaN)) * 100) | 0}%`,
    ]),
    ...heapRows.map((h) => [
      `heap per L1 entry: ${h.label}${h.id === 'lru' ? ' (baseline)' : ''}`,
      fmtBytes(h.perEntry),
      '',
      `${((h.perEntry / (heapRows.find((x) => x.id === 'lru')?.perEntry ?? Number.NaN)) * 100) | 0}%`,
    ]),
  ]
  const bars: Bar[] = [
    ...redisRows.map(
      (r): Bar => ({
        label: `Redis: ${label(r.id)}`,
        value: r.memoryUsage,
        display: fmtBytes(r.memoryUsage),
        role: r === base ? 'baseline' : r.id === 'herdless' ? 'herdless' : 'other',
      }),
    ),
    ...heapRows.map(
      (h): Bar => ({
        label: `heap: ${h.label}`,
        value: h.perEntry,
        display: fmtBytes(h.perEntry),
        role: h.id === 'lru' ? 'baseline' : h.id === 'herdless' ? 'herdless' : 'other',
      }),
    ),
  ]
  const herdlessRedis = redisRows.find((r) => r.id === 'herdless')
  return {
    id: 'memory',
    title: '6. Memory per entry (~1 KB JSON-like object)',
    description: `Redis: ${n.toLocaleString('en-US')} entries written with set(), then \`MEMORY USAGE key SAMPLES 0\` (value + key + Redis overhead) and STRLEN (the stored bytes) averaged over every key. Heap: ${hn.toLocaleString('en-US')} entries loaded into each library's in-process tier with getOrSet, heapUsed after two forced GCs, divided by the entry count. The object is ${VALUE_JSON_BYTES} bytes as JSON and ${msgpackBytes} bytes as msgpack.`,
    columns: ['what', 'bytes per entry', 'stored value (STRLEN)', 'vs baseline'],
    rows,
    chart: { title: '6. Memory per entry, bytes (lower is better)', unit: 'bytes', bars },
    configs: [],
    notes: [
      `Herdless stores a 22-byte binary header (createdAt, freshUntil, staleUntil as 48-bit ms, loadMs as 24-bit) in front of the msgpack value: its stored value is ${fmtBytes((herdlessRedis?.strlen ?? Number.NaN) - (base?.strlen ?? Number.NaN))} longer than raw msgpackr's. MEMORY USAGE also counts the key (Herdless's \`<prefix>:{key}\` carries a hash tag) and moves in jemalloc size classes, so a few bytes can cross a class boundary. BentoCache and cache-manager store JSON with their metadata inside.`,
      gc === undefined
        ? 'Heap rows skipped: run with --expose-gc (pnpm bench does).'
        : 'Heap numbers include everything the library keeps per entry (LRU node, wrapper object, key string, metadata); "the value alone" is the same objects held in a plain array. BentoCache/cache-manager "defaults" rows keep a JSON string per entry instead of the object.',
    ],
    targets: [
      {
        text: 'Herdless Redis bytes per entry ≤ raw msgpack entry + 48 B (MEMORY USAGE)',
        met: (herdlessRedis?.memoryUsage ?? Number.NaN) - (base?.memoryUsage ?? Number.NaN) <= 48,
        detail: `+${fmtBytes((herdlessRedis?.memoryUsage ?? Number.NaN) - (base?.memoryUsage ?? Number.NaN))} (stored value +${fmtBytes((herdlessRedis?.strlen ?? Number.NaN) - (base?.strlen ?? Number.NaN))})`,
      },
    ],
    data: {
      redis: redisRows,
      heap: heapRows,
      valueJsonBytes: VALUE_JSON_BYTES,
      valueMsgpackBytes: msgpackBytes,
    },
    headline: {
      metric: 'Redis bytes per entry (MEMORY USAGE)',
      cells: Object.fromEntries(
        redisRows.map((r) => [
          r.id,
          r === base
            ? fmtBytes(r.memoryUsage)
            : `${fmtBytes(r.memoryUsage)} (+${fmtBytes(r.memoryUsage - (base?.memoryUsage ?? Number.NaN))})`,
        ]),
      ),
    },
  }
}
