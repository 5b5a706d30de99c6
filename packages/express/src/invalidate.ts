import { type Cache, type InvalidateTarget, invalidateResponses } from '@herdless/core'

/**
 * Invalidate cached responses: by tag (O(1) per tag, reaches every entry with that tag), by
 * path (every query string and vary variant of it), or by the keys a `key(req)` option built.
 *
 * ```ts
 * app.post('/products', async (req, res) => {
 *   await db.insertProduct(req.body)
 *   await invalidate(cache, { tags: ['products'], paths: ['/products'] })
 *   res.status(201).end()
 * })
 * ```
 */
export function invalidate(
  cache: Cache,
  target: InvalidateTarget,
  options?: { namespace?: string },
): Promise<void> {
  return invalidateResponses(cache, target, options)
}
