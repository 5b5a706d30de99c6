// A slow Express endpoint (a fake 200 ms database call) made fast with @herdless/express.
//   pnpm --filter express-app start                          embedded in-process store
//   REDIS_URL=redis://127.0.0.1:6380 pnpm --filter express-app start   shared Redis
// Env: PORT (default 3000, 0 = any free port), HERDLESS_CACHE=off to run without the middleware.
import { createCache } from '@herdless/core'
import { cacheResponses, invalidate } from '@herdless/express'
import express from 'express'

const redisUrl = process.env.REDIS_URL
const cacheOn = process.env.HERDLESS_CACHE !== 'off'
const cache = createCache(redisUrl ? { redis: redisUrl, prefix: 'express-app' } : {})

// The "database": every call takes 200 ms and is counted, so the effect of the cache is visible.
let dbCalls = 0
async function findProducts(category) {
  dbCalls++
  await new Promise((resolve) => setTimeout(resolve, 200))
  return Array.from({ length: 20 }, (_, i) => ({ id: i + 1, category, name: `${category} #${i + 1}` }))
}

const app = express()
const cached = cacheOn
  ? cacheResponses({ cache, ttl: '30s', staleTtl: '10m', tags: ['products'] })
  : (_req, _res, next) => next()

app.get('/products', cached, async (req, res, next) => {
  try {
    const category = String(req.query.category ?? 'all')
    res.json({ category, products: await findProducts(category) })
  } catch (err) {
    next(err)
  }
})

// A write: drop every cached product response (O(1), by tag).
app.post('/products', async (_req, res) => {
  await invalidate(cache, { tags: ['products'] })
  res.status(204).end()
})

app.get('/stats', (_req, res) => {
  res.json({ dbCalls })
})

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address()
  const store = redisUrl ? 'Redis' : 'embedded store'
  console.log(
    `express-app listening on http://127.0.0.1:${port}/products (cache ${cacheOn ? `on, ${store}` : 'off'})`,
  )
})

// Ctrl-C under `pnpm ... start` reaches this process twice (from the terminal, then forwarded by
// pnpm): a `once` handler would leave the second SIGINT to kill the process by signal, and pnpm
// would report a failure. Every signal is handled; the first one closes, the others wait for it.
let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  server.close()
  server.closeAllConnections()
  await cache.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
