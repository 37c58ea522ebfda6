import { Module } from '@nestjs/common';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { UnleashedClient } from './unleashed.client';
import { UnleashedHealth } from './unleashed.health';
import { UnleashedTools } from './unleashed.tools';

/** The Unleashed inventory connector: products, stock on hand, sales and purchase orders, customers (read only). */
@Module({
  imports: [UpstreamHttpModule],
  providers: [UnleashedClient, UnleashedTools, UnleashedHealth],
})
export class UnleashedModule {}
