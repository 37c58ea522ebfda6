import type { Principal } from '../auth/principal';
import type { McpCallContext } from '../mcp/mcp-context';
import type { McpRegistry } from '../mcp/mcp-registry.service';
import type { ConnectorHealth } from './connector-health.service';
import type { ConnectorStatusDto } from './connectors-admin.dto';
import { ConnectorsResource, ConnectorView } from './connectors.resources';

const status = (
  service: ConnectorStatusDto['service'],
  stored: boolean,
  circuit: ConnectorStatusDto['circuit'] = { state: 'closed', scope: 'service', retryAfterSeconds: null },
): ConnectorStatusDto => ({
  service,
  credentials: { stored, updatedAt: stored ? '2026-01-02T03:04:05.000Z' : null },
  circuit,
});

/** The resource over a listing of `items` for every organisation, and tools named with their permissions. */
function resource(items: ConnectorStatusDto[], tools: Record<string, string | string[]>) {
  const listed: string[] = [];
  const health = {
    list: (principal: Principal) => {
      listed.push(principal.organizationId);
      return Promise.resolve({ items });
    },
  } as unknown as ConnectorHealth;
  const registry = {
    tools: new Map(
      Object.entries(tools).map(([name, permission]) => [name, { options: { name, permission } }]),
    ),
  } as unknown as McpRegistry;
  const read = async (permissions: string[]) => {
    const principal: Principal = { keyId: 'k', userId: 'u', organizationId: 'org-r', permissions };
    const result = await new ConnectorsResource(health, registry).read({ principal } as McpCallContext);
    const text = (result.contents[0] as { text: string }).text;
    return JSON.parse(text) as { organizationId: string; services: ConnectorView[] };
  };
  return { read, listed };
}

describe('sentia://connectors', () => {
  it('is ready only when the credentials are stored and the circuit is not open; a half-open one is ready', async () => {
    const { read } = resource(
      [
        status('xero', true, { state: 'open', scope: 'service', retryAfterSeconds: 42 }),
        status('shopify', true, { state: 'unknown', scope: 'shop', retryAfterSeconds: null }),
        status('unleashed', true, { state: 'half_open', scope: 'service', retryAfterSeconds: null }),
        status('anthropic', false),
        status('openai', true),
      ],
      {},
    );
    const body = await read(['admin']);
    expect(body.organizationId).toBe('org-r');
    expect(body.services.map((s) => [s.service, s.circuit, s.ready])).toEqual([
      ['xero', { state: 'open', retryAfterSeconds: 42 }, false],
      ['shopify', { state: 'unknown', retryAfterSeconds: null }, true],
      ['unleashed', { state: 'half_open', retryAfterSeconds: null }, true],
      ['anthropic', { state: 'closed', retryAfterSeconds: null }, false],
      ['openai', { state: 'closed', retryAfterSeconds: null }, true],
    ]);
  });

  it("lists a service's tools the key may call only: one needing a permission the key lacks is left out", async () => {
    const { read } = resource([status('xero', true)], {
      xero_list_invoices: 'xero:read',
      xero_void_invoice: ['xero:read', 'xero:write'],
      server_info: 'xero:read',
    });
    const [xero] = (await read(['xero:read'])).services;
    expect(xero.tools).toEqual(['xero_list_invoices']);
    const [forAdmin] = (await read(['admin'])).services;
    expect(forAdmin.tools).toEqual(['xero_list_invoices', 'xero_void_invoice']);
  });

  it('reads nothing of the organisation for a key holding no connector permission', async () => {
    const { read, listed } = resource([status('xero', true)], {});
    expect((await read(['credentials:read'])).services).toEqual([]);
    expect(listed).toEqual([]);
    await read(['xero:read']);
    expect(listed).toEqual(['org-r']);
  });
});
