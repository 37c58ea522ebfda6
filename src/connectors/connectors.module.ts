import { Module } from '@nestjs/common';
import { AiModule } from './ai/ai.module';
import { UpstreamHttpModule } from './http/upstream-http.module';
import { ShopifyModule } from './shopify/shopify.module';
import { UnleashedModule } from './unleashed/unleashed.module';
import { XeroModule } from './xero/xero.module';

/**
 * The business-system connectors. Each is a module of its own (client,
 * tools, simulator-tested) built on `http/`; the MCP module finds their
 * tools through discovery, so adding one here is all it takes to serve it.
 */
@Module({
  imports: [UpstreamHttpModule, AiModule, ShopifyModule, UnleashedModule, XeroModule],
})
export class ConnectorsModule {}
