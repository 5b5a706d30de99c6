import type { StoredResponse } from './types'

/**
 * What core/http has to guess about the engine until `LoaderContext.background` and a
 * `getOrSet` that reports the value's source exist. Both guesses live here, and only here, so
 * that swapping them for the engine's answers touches one file.
 */

/** A getOrSet call in progress: `settled` flips when it resolved (or rejected) for its caller. */
export interface FlightState {
  settled: boolean
}

/**
 * Is this loader run a background refresh (stale-while-revalidate, XFetch early refresh)?
 * getOrSet settles through microtasks alone when it does not wait for the loader: after one
 * macrotask we know which it is.
 */
export async function loaderIsBackground(flight: FlightState): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve))
  return flight.settled
}

/** Where the value getOrSet returned came from, read from the value's timestamps. */
export type GuessedSource =
  /** This request's loader produced it. */
  | 'loader'
  /** A stale copy: being refreshed by someone else, or standing in for this request's failed run. */
  | 'stale'
  /** Stored after this request began: it waited for a concurrent identical request's run. */
  | 'waited'
  | 'fresh'

export function guessSource(
  value: StoredResponse,
  o: { produced: boolean; ranForeground: boolean; refresh: boolean; started: number; now: number },
): GuessedSource {
  if (o.produced) return 'loader'
  if (o.now >= value.freshUntil) return 'stale'
  // This request's run failed and the engine fell back to the old copy (its backoff may have
  // made it look fresh), unless the copy is newer than the request: then another run made it.
  if (o.ranForeground) return value.storedAt >= o.started ? 'waited' : 'stale'
  if (o.refresh && value.storedAt < o.started) return 'stale' // another request is refreshing it
  // Same millisecond counts as fresh: a request that began as the copy landed did not wait.
  if (value.storedAt > o.started) return 'waited'
  return 'fresh'
}
