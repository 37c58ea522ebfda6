import { Module } from '@nestjs/common';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { ShopifyClient } from './shopify.client';
import { ShopifyHealth } from './shopify.health';
import { ShopifyPrompts } from './shopify.prompts';
import { ShopifyTools } from './shopify.tools';

/** The Shopify connector: GraphQL Admin API client and its read-only tools (`shopify:read`). */
@Module({
  imports: [UpstreamHttpModule],
  providers: [ShopifyClient, ShopifyTools, ShopifyHealth, ShopifyPrompts],
})
export class ShopifyModule {}
