import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module.js'
import { ProductsService } from './products.service.js'

const port = Number(process.env.PORT ?? 3000)

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] })
await app.listen(port, '127.0.0.1')
// Not app.enableShutdownHooks(): Nest re-raises the signal after closing, so the process ends "killed
// by SIGINT" and `pnpm ... start` reports a failure. pnpm also forwards Ctrl-C a second time, so
// every signal is handled and the first one closes (onModuleDestroy closes the cache) and exits 0.
let closing = false
async function shutdown(): Promise<void> {
  if (closing) return
  closing = true
  await app.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)

// PORT=0 picks any free port: read back the one the server got.
const { port: listening } = app.getHttpServer().address() as { port: number }
const base = `http://127.0.0.1:${listening}`
console.log(
  `NestJS + Herdless on ${base} (${process.env.REDIS_URL ? `Redis ${process.env.REDIS_URL}` : 'embedded store'})`,
)

// Show the stampede protection once: 100 concurrent requests for a cold product.
const service = app.get(ProductsService)
const before = service.loads
const started = performance.now()
const answers = await Promise.all(
  Array.from({ length: 100 }, () => fetch(`${base}/products/1`).then((r) => r.headers.get('x-cache'))),
)
const ms = Math.round(performance.now() - started)
const count = (v: string) => answers.filter((a) => a === v).length
console.log(
  `100 concurrent GET /products/1: ${count('MISS')} MISS (ran or waited for the one handler run), ${count('HIT')} HIT, ` +
    `service loaded ${service.loads - before} time(s) (200 ms each), ${ms} ms in all`,
)
// Change a price: the service entry and the cached page are invalidated, the next GET reloads.
await fetch(`${base}/products/1/price`, {
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ price: 99 }),
})
const after = await fetch(`${base}/products/1`)
const product = (await after.json()) as { price: number }
console.log(`after PUT /products/1/price: X-Cache ${after.headers.get('x-cache')}, price ${product.price}`)
console.log(`
Try:
  curl -i ${base}/products/2            # MISS, ~200 ms; again: HIT
  curl -i ${base}/products/2/live       # BYPASS: the response is not cached, the service call is
  curl -i -X PUT -H 'content-type: application/json' -d '{"price":99}' ${base}/products/2/price
  curl -i ${base}/products              # how many times the "database" was read
Ctrl+C closes the app and its Redis connections.`)
