import { Module } from '@nestjs/common';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { UnleashedClient } from './unleashed.client';
import { UnleashedTools } from './unleashed.tools';

/** The Unleashed inventory connector: `unleashed_list_products` and `unleashed_stock_on_hand`. */
@Module({
  imports: [UpstreamHttpModule],
  providers: [UnleashedClient, UnleashedTools],
})
export class UnleashedModule {}
