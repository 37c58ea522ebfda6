import { Module } from '@nestjs/common';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { UnleashedClient } from './unleashed.client';
import { UnleashedHealth } from './unleashed.health';
import { UnleashedPrompts } from './unleashed.prompts';
import { UnleashedTools } from './unleashed.tools';

/** The Unleashed inventory connector: products, stock on hand, sales and purchase orders, customers (read only). */
@Module({
  imports: [UpstreamHttpModule],
  providers: [UnleashedClient, UnleashedTools, UnleashedHealth, UnleashedPrompts],
})
export class UnleashedModule {}
