// A slow Fastify endpoint (a fake 200 ms database call) made fast with @herdless/fastify.
//   pnpm --filter fastify-app start                          embedded in-process store
//   REDIS_URL=redis://127.0.0.1:6380 pnpm --filter fastify-app start   shared Redis
// Env: PORT (default 3001, 0 = any free port), HERDLESS_CACHE=off to run without caching.
import herdless from '@herdless/fastify'
import Fastify from 'fastify'

const redisUrl = process.env.REDIS_URL
const cacheOn = process.env.HERDLESS_CACHE !== 'off'

// The "database": every call takes 200 ms and is counted, so the effect of the cache is visible.
let dbCalls = 0
async function findProducts(category) {
  dbCalls++
  await new Promise((resolve) => setTimeout(resolve, 200))
  return Array.from({ length: 20 }, (_, i) => ({ id: i + 1, category, name: `${category} #${i + 1}` }))
}

const app = Fastify()
// The plugin creates the cache (and closes it with the app): Redis when REDIS_URL is set.
await app.register(herdless, {
  ...(redisUrl ? { redis: redisUrl } : {}),
  prefix: 'fastify-app',
  ttl: '30s',
  staleTtl: '10m',
})

app.get('/products', { config: { cache: cacheOn && { tags: ['products'] } } }, async (request) => {
  const category = String(request.query.category ?? 'all')
  return { category, products: await findProducts(category) }
})

// A write: drop every cached product response (O(1), by tag).
app.post('/products', async (_request, reply) => {
  await app.cache.invalidateTags(['products'])
  return reply.code(204).send()
})

app.get('/stats', async () => ({ dbCalls }))

const address = await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' })
const store = redisUrl ? 'Redis' : 'embedded store'
console.log(`fastify-app listening on ${address}/products (cache ${cacheOn ? `on, ${store}` : 'off'})`)

// Ctrl-C under `pnpm ... start` reaches this process twice (from the terminal, then forwarded by
// pnpm): a `once` handler would leave the second SIGINT to kill the process by signal, and pnpm
// would report a failure. Every signal is handled; the first one closes, the others wait for it.
let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  await app.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
