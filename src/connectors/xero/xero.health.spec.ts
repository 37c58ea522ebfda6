import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorChecks } from '../http/connector-checks';
import type { XeroClient } from './xero-client.service';
import { XeroHealth } from './xero.health';

/** XeroHealth over a client whose GET /connections finds `connected` tenants, `allowed` of them stored. */
function health(
  connected: number,
  allowed: number,
  urls = { identity: 'https://identity.xero.test', api: 'https://api.xero.test/api.xro/2.0' },
) {
  const client = {
    checkTenants: () =>
      Promise.resolve({
        connected,
        allowed: Array.from({ length: allowed }, (_, i) => ({ tenantId: `t${i}` })),
      }),
  } as unknown as XeroClient;
  const config = {
    connectors: { baseUrls: { xeroIdentity: urls.identity, xeroApi: urls.api } },
  } as AppConfig;
  const checks = new ConnectorChecks();
  const h = new XeroHealth(config, client, checks);
  h.onModuleInit();
  return { h, checks };
}

const ctx = {} as ToolContext;

describe('XeroHealth', () => {
  it('registers itself as the Xero check', () => {
    const { h, checks } = health(1, 1);
    expect(checks.get('xero')).toBe(h);
  });

  it('says how many tenants are connected, one in the singular', async () => {
    expect(await health(1, 1).h.check(ctx)).toBe('Xero accepted the credentials; 1 tenant connected');
    expect(await health(3, 3).h.check(ctx)).toBe('Xero accepted the credentials; 3 tenants connected');
    expect(await health(3, 1).h.check(ctx)).toBe(
      'Xero accepted the credentials; 3 tenants connected, 1 of them among the stored tenantIds',
    );
  });

  it('says so when no tenant is connected: the tools have none to read', async () => {
    expect(await health(0, 0).h.check(ctx)).toBe(
      'Xero accepted the credentials, but no tenant (organisation) is connected to the app, so the tools have none to read',
    );
  });

  it('keeps its circuits under both the identity and the API host, once when they are one', () => {
    expect(health(1, 1).h.origins()).toEqual(['https://identity.xero.test', 'https://api.xero.test']);
    expect(
      health(1, 1, {
        identity: 'http://127.0.0.1:9000',
        api: 'http://127.0.0.1:9000/api.xro/2.0',
      }).h.origins(),
    ).toEqual(['http://127.0.0.1:9000']);
  });
});
