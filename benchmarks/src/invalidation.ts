// Invalidation latency: from process B's write to process A dropping the key from its L1.
// Two caches on one private loopback Redis, separate connections and sender ids, so every
// message takes the real Pub/Sub path (PUBLISH → Redis → A's subscriber → L1 delete).
// Run: pnpm --filter @herdless/benchmarks invalidation [rounds]

import { type Cache, createCache } from '@herdless/core'
import { startRedis } from '@herdless/test-utils'

const ROUNDS = Number(process.argv[2] ?? 2_000)
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0
const ready = (c: Cache) => new Promise<void>((resolve) => c.once('bus:ready', () => resolve()))

const server = await startRedis()
try {
  for (const signed of [false, true]) {
    const opts = {
      redis: server.url,
      prefix: `inv${signed ? 's' : ''}`,
      l1: { max: 10_000 },
      ...(signed ? { bus: { signingKey: 'k'.repeat(32) } } : {}),
    }
    const a = createCache(opts)
    const b = createCache(opts)
    await Promise.all([ready(a), ready(b)])
    const samples: number[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const key = `k${i % 100}`
      await a.getOrSet(key, () => 'v0')
      const dropped = new Promise<number>((resolve) => {
        const on = (e: { type: string }) => {
          if (e.type !== 'set') return
          a.off('bus:received', on)
          resolve(performance.now())
        }
        a.on('bus:received', on)
      })
      const t0 = performance.now()
      await b.set(key, `v${i}`)
      samples.push((await dropped) - t0)
    }
    console.log(
      `| ${signed ? 'signed (HMAC-SHA256)' : 'unsigned'} | ${ROUNDS} | ${pct(samples, 0.5).toFixed(2)} ms | ${pct(samples, 0.99).toFixed(2)} ms | ${Math.max(...samples).toFixed(2)} ms |`,
    )
    await Promise.all([a.close(), b.close()])
  }
} finally {
  await server.stop()
}
