import { createServer } from 'node:net'

export const LOOPBACK = '127.0.0.1'

function probe(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(null))
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : null
      server.close(() => resolve(bound))
    })
  })
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick). Another process may
 * still take it before the caller binds it: startRedis retries on "Address already in use".
 *
 * `withClusterBus`: also require `port + 10000` to be free, the port Redis Cluster uses for its
 * bus by default (so the harness works with Redis 6 too, which has no `cluster-port`).
 */
export async function freePort(options: { withClusterBus?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await probe(0)
    if (port === null) continue
    if (!options.withClusterBus) return port
    if (port + 10_000 > 65_535) continue
    if ((await probe(port + 10_000)) !== null) return port
  }
  throw new Error('freePort: no free loopback port found after 200 attempts')
}
