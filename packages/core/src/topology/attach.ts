import type { Engine } from '../engine'
import type { Client } from '../store/client'
import { type TopologyClient, TopologyMonitor } from './monitor'
import { WriteGuard } from './write-guard'

export interface AttachedTopology {
  readonly monitor: TopologyMonitor
  readonly guard: WriteGuard | undefined
}

/** One monitor per engine, shared by a cache and its namespaces. */
const attached = new WeakMap<Engine, AttachedTopology>()

/**
 * Start the monitor (and build the write guard) the engine's options ask for, feeding the
 * engine's events. Returns undefined when `topology` is off.
 */
export function startTopology(engine: Engine, client: Client): AttachedTopology | undefined {
  const { topology, writeGuard } = engine.options
  if (topology === false) return undefined
  // The cache's own client seam: the monitor recognises it and polls through it as it is.
  const monitor = new TopologyMonitor(client as unknown as TopologyClient, {
    pollInterval: topology.pollInterval,
    emit: (event, payload) => engine.emit(event, payload),
    onError: (error) => engine.reportError(error, 'topology'),
  })
  const guard = writeGuard === false ? undefined : new WriteGuard(monitor, writeGuard.maxMemoryRatio)
  const t = { monitor, guard }
  attached.set(engine, t)
  monitor.start()
  return t
}

export function topologyOf(engine: Engine): AttachedTopology | undefined {
  return attached.get(engine)
}

export async function stopTopology(engine: Engine): Promise<void> {
  await attached.get(engine)?.monitor.stop()
}
