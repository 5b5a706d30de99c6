import { HerdlessModule } from '@herdless/nestjs'
import { Module } from '@nestjs/common'
import { ProductsController } from './products.controller.js'
import { ProductsService } from './products.service.js'

@Module({
  imports: [
    // REDIS_URL unset: the embedded in-memory store (one process), so the example runs anywhere.
    HerdlessModule.forRoot({
      isGlobal: true,
      ...(process.env.REDIS_URL ? { redis: process.env.REDIS_URL } : {}),
      prefix: 'nestjs-example',
      ttl: '30s',
    }),
  ],
  controllers: [ProductsController],
  providers: [ProductsService],
})
export class AppModule {}
