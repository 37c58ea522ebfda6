import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorChecks } from '../http/connector-checks';
import type { ShopifyClient, ShopifyOperation } from './shopify.client';
import { SHOP_NAME, ShopifyHealth } from './shopify.health';

/** ShopifyHealth over a client whose shop is called `name`; the operations it was asked for are kept. */
function health(name: string, base?: string) {
  const asked: ShopifyOperation<unknown>[] = [];
  const client = {
    query: (_ctx: ToolContext, op: ShopifyOperation<unknown>) => {
      asked.push(op);
      return Promise.resolve({ shop: { name } });
    },
  } as unknown as ShopifyClient;
  const config = { connectors: { baseUrls: { shopify: base } } } as AppConfig;
  const checks = new ConnectorChecks();
  const h = new ShopifyHealth(config, client, checks);
  h.onModuleInit();
  return { h, checks, asked };
}

const ctx = {} as ToolContext;

describe('ShopifyHealth', () => {
  it("asks for the shop's name only, and quotes it", async () => {
    const { h, checks, asked } = health('Acme "Outdoor"');
    expect(checks.get('shopify')).toBe(h);
    expect(await h.check(ctx)).toBe('Shopify accepted the credentials; shop "Acme \\"Outdoor\\""');
    expect(asked).toEqual([SHOP_NAME]);
  });

  it('cuts a long shop name to 100 characters, on one line', async () => {
    const { h } = health(`${'n'.repeat(150)}`);
    expect(await h.check(ctx)).toBe(`Shopify accepted the credentials; shop "${'n'.repeat(99)}…"`);
    expect(await health('a\nb').h.check(ctx)).toBe('Shopify accepted the credentials; shop "a b"');
  });

  it('knows its circuit origin only when SHOPIFY_BASE_URL fixes the host', () => {
    expect(health('x').h.origins()).toBeUndefined();
    expect(health('x', 'http://127.0.0.1:9100/base').h.origins()).toEqual(['http://127.0.0.1:9100']);
  });
});
