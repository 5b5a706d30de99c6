import { Cacheable, CacheInvalidate } from '@herdless/nestjs'
import { Injectable } from '@nestjs/common'

export interface Product {
  id: number
  name: string
  price: number
  loadedAt: string
}

/** Stands in for a database: every read takes 200 ms and is counted. */
@Injectable()
export class ProductsService {
  loads = 0
  readonly #prices = new Map<number, number>()

  @Cacheable({ key: (id: number) => `product:${id}`, ttl: '30s', tags: ['products'] })
  async findOne(id: number): Promise<Product> {
    this.loads++
    await new Promise((resolve) => setTimeout(resolve, 200))
    return {
      id,
      name: `Product ${id}`,
      price: this.#prices.get(id) ?? 10 * id,
      loadedAt: new Date().toISOString(),
    }
  }

  @CacheInvalidate({ keys: (id: number) => [`product:${id}`] })
  async setPrice(id: number, price: number): Promise<void> {
    this.#prices.set(id, price)
  }
}
