export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Poll `check` until it returns true. `check` may also return a string: the reason it is not
 * ready yet, quoted in the timeout error so a failing harness says what it was waiting for.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<true | string> | true | string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const intervalMs = options.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  let last = 'not checked yet'
  for (;;) {
    try {
      const result = await check()
      if (result === true) return
      last = result
    } catch (error) {
      last = (error as Error).message
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`)
    await sleep(intervalMs)
  }
}
