import { CacheError } from '@herdless/core'

/** `fastify.cache` already exists: the plugin was registered twice, or another plugin took the name. */
export class PluginRegistrationError extends CacheError {
  constructor() {
    super(
      'E_INVALID_OPTION',
      '@herdless/fastify cannot decorate fastify.cache: it already exists. Register the plugin once, at the root ' +
        '(it is not encapsulated), and remove other plugins that decorate `cache` (e.g. @fastify/caching).',
    )
    this.name = 'PluginRegistrationError'
  }
}
