import { Inject } from '@nestjs/common'
import { HERDLESS_CACHE, HERDLESS_RESPONSE_CACHE } from './constants'

/** Inject the module's core `Cache`: `constructor(@InjectCache() private readonly cache: Cache)`. */
export const InjectCache = (): PropertyDecorator & ParameterDecorator => Inject(HERDLESS_CACHE)

/** Inject the module's core `ResponseCache`, e.g. to `invalidate({ paths: '/products/1' })`. */
export const InjectResponseCache = (): PropertyDecorator & ParameterDecorator =>
  Inject(HERDLESS_RESPONSE_CACHE)
