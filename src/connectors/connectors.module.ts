import { Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module';
import { McpModule } from '../mcp/mcp.module';
import { AiModule } from './ai/ai.module';
import { ConnectorHealth } from './connector-health.service';
import { ConnectorsResource } from './connectors.resources';
import { ConnectorsUpdates } from './connectors-updates.service';
import { ConnectorsAdminController } from './connectors-admin.controller';
import { UpstreamHttpModule } from './http/upstream-http.module';
import { ShopifyModule } from './shopify/shopify.module';
import { StockVsSalesPrompts } from './stock-vs-sales.prompts';
import { UnleashedModule } from './unleashed/unleashed.module';
import { XeroModule } from './xero/xero.module';

/**
 * The business-system connectors. Each is a module of its own (client,
 * tools, health check, simulator-tested) built on `http/`; the MCP module
 * finds their tools through discovery, so adding one here is all it takes to
 * serve it. The admin routes of connector health (`/admin/connectors`) live here.
 */
@Module({
  imports: [
    UpstreamHttpModule,
    CredentialsModule,
    McpModule,
    AiModule,
    ShopifyModule,
    UnleashedModule,
    XeroModule,
  ],
  controllers: [ConnectorsAdminController],
  providers: [ConnectorHealth, ConnectorsResource, ConnectorsUpdates, StockVsSalesPrompts],
})
export class ConnectorsModule {}
