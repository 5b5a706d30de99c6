/** Counts runs per name (handler runs, loader calls) so tests assert counts, not timings. */
export class Calls {
  readonly #counts = new Map<string, number>()
  hit(name: string): number {
    const n = (this.#counts.get(name) ?? 0) + 1
    this.#counts.set(name, n)
    return n
  }
  of(name: string): number {
    return this.#counts.get(name) ?? 0
  }
}
