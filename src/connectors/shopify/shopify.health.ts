import { Injectable, OnModuleInit } from '@nestjs/common';
import { z } from 'zod';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCheck, ConnectorChecks } from '../http/connector-checks';
import { cut } from './shopify-graphql';
import { ShopifyClient, ShopifyOperation } from './shopify.client';

/** The cheapest query there is: one object, one point of the shop's bucket. */
export const SHOP_NAME: ShopifyOperation<{ shop: { name: string } }> = {
  name: 'ShopName',
  query: 'query ShopName { shop { name } }',
  variables: {},
  data: z.object({ shop: z.object({ name: z.string() }) }),
};

/** The longest shop name a check's detail repeats. */
const MAX_NAME = 100;

/**
 * Shopify's admin check: the shop's name through the GraphQL Admin API, with
 * the stored token, at the stored shop and API version (so a wrong shop or
 * version is found too), throttling handled as for any query.
 */
@Injectable()
export class ShopifyHealth implements ConnectorCheck, OnModuleInit {
  readonly service = 'shopify';

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly client: ShopifyClient,
    private readonly checks: ConnectorChecks,
  ) {}

  onModuleInit(): void {
    this.checks.register(this);
  }

  /** Each shop is its own host, named only in the stored credentials: known here only with SHOPIFY_BASE_URL. */
  origins(): string[] | undefined {
    const base = this.config.connectors.baseUrls.shopify;
    return base === undefined ? undefined : [new URL(base).origin];
  }

  async check(ctx: ToolContext): Promise<string> {
    const { shop } = await this.client.query(ctx, SHOP_NAME);
    return `Shopify accepted the credentials; shop ${JSON.stringify(cut(shop.name, MAX_NAME))}`;
  }
}
