import type { ResponseCache } from '@herdless/core'
import { CacheTTL, HttpCacheInterceptor, InjectResponseCache, NoCache } from '@herdless/nestjs'
import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Put, UseInterceptors } from '@nestjs/common'
import { type Product, ProductsService } from './products.service.js'

/**
 * GET responses are cached whole by HttpCacheInterceptor (X-Cache: HIT/MISS/STALE, ETag, 304);
 * behind them, ProductsService.findOne is cached by key with @Cacheable.
 */
@Controller('products')
@UseInterceptors(HttpCacheInterceptor)
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    @InjectResponseCache() private readonly responses: ResponseCache,
  ) {}

  @Get(':id')
  @CacheTTL('10s')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    return this.products.findOne(id)
  }

  @Get(':id/live')
  @NoCache()
  live(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    return this.products.findOne(id)
  }

  /** @CacheInvalidate on the service drops `product:<id>`; the cached page goes here. */
  @Put(':id/price')
  @HttpCode(204)
  async setPrice(@Param('id', ParseIntPipe) id: number, @Body() body: { price: number }): Promise<void> {
    await this.products.setPrice(id, Number(body.price))
    await this.responses.invalidate({ paths: `/products/${id}` })
  }

  @Get()
  @NoCache()
  stats(): { serviceLoads: number } {
    return { serviceLoads: this.products.loads }
  }
}
