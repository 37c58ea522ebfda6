/**
 * Unleashed's monthly quota (UNLEASHED_MONTHLY_QUOTA) end to end: the whole
 * app (SQLite + memory store) against the Unleashed simulator. The quota is
 * the Unleashed account's, so it is counted per API id, whatever organisation
 * stored it, and per request sent, retries included.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { startUnleashedSimulator, UnleashedSimulator } from '../simulators/unleashed.simulator';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

const CREDS = {
  apiId: '5d1f0c2a-7e3b-4a9c-8f60-1b2c3d4e5f60',
  apiKey: 'unleashed-quota-api-key-SECRET-0001',
};
/** The same account, its id in capitals, stored by another organisation. */
const SAME_ACCOUNT = { apiId: CREDS.apiId.toUpperCase(), apiKey: CREDS.apiKey };
/** Another account (the simulator knows only CREDS, so it answers 403). */
const OTHER_ACCOUNT = {
  apiId: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d',
  apiKey: 'unleashed-quota-other-key-SECRET-0002',
};
/** The account's API id (not a secret) stored by another organisation with a key of its own. */
const SQUATTER = { apiId: CREDS.apiId, apiKey: 'unleashed-quota-squatter-key-SECRET-0003' };
for (const s of [CREDS.apiKey, OTHER_ACCOUNT.apiKey, SQUATTER.apiKey])
  registerSecret(s, 'connector-unleashed-quota api key');

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
}
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

describe('Unleashed monthly quota (e2e, simulator)', () => {
  let sim: UnleashedSimulator;
  let started: StartedApp;
  const clients: Client[] = [];
  const readers: Record<string, Client> = {};

  async function readerOf(org: string, creds: { apiId: string; apiKey: string }): Promise<Client> {
    const admin = await issueKey(started, org, ['credentials:write'], `admin ${org}`);
    const put = await request(started.url).put('/credentials/unleashed').set(bearer(admin.token)).send(creds);
    expect(put.status).toBe(201);
    const { token } = await issueKey(started, org, ['unleashed:read'], `reader ${org}`);
    const client = new Client({ name: 'e2e-unleashed-quota', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
        requestInit: { headers: bearer(token) },
      }),
    );
    clients.push(client);
    return client;
  }
  const list = async (org: string) =>
    (await readers[org].callTool({
      name: 'unleashed_list_products',
      arguments: { pageSize: 1 },
    })) as ToolResult;

  beforeAll(async () => {
    sim = await startUnleashedSimulator(CREDS);
    started = await startApp({
      ...AUTH_ENV,
      UNLEASHED_BASE_URL: sim.url,
      UNLEASHED_MONTHLY_QUOTA: '4',
      // Every call must reach the upstream (or be refused before it): no answers from the cache.
      MCP_TOOL_CACHE_TTL: '0',
    });
    readers.a = await readerOf('org-quota-a', CREDS);
    readers.b = await readerOf('org-quota-b', SAME_ACCOUNT);
    readers.c = await readerOf('org-quota-c', OTHER_ACCOUNT);
    readers.d = await readerOf('org-quota-d', SQUATTER);
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await started?.close();
    await sim?.close();
  });

  it('counts every request sent for the account, retries included, then refuses without calling Unleashed', async () => {
    expect((await list('a')).isError).toBeFalsy();
    // A 503 and its retry: two requests of the account's four.
    sim.failNext(503);
    expect((await list('a')).isError).toBeFalsy();
    // Another organisation with the same account (its id in capitals) takes the fourth.
    expect((await list('b')).isError).toBeFalsy();
    expect(sim.requests.filter((r) => r.headers['api-auth-id']?.toLowerCase() === CREDS.apiId)).toHaveLength(
      4,
    );

    for (const org of ['a', 'b']) {
      const refused = await list(org);
      expect(refused.isError).toBe(true);
      const now = new Date();
      const renews = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
      expect(textOf(refused)).toBe(
        `This server's monthly quota of 4 Unleashed calls for this account is used up; it renews at ${renews}.`,
      );
    }
    expect(sim.requests).toHaveLength(4);

    // Another account has a count of its own: its call is sent (and refused by Unleashed, which knows only one).
    const other = await list('c');
    expect(textOf(other)).toContain('Unleashed refused the stored credentials (HTTP 403)');
    expect(sim.requests).toHaveLength(5);
    expect(sim.requests[4].headers['api-auth-id']).toBe(OTHER_ACCOUNT.apiId);
  });

  it("does not let an organisation that knows an account's API id spend (or share) its count with another key", async () => {
    sim.reset();
    // The account's count is spent (above); the squatter's calls are its own, sent, and refused by Unleashed.
    for (let i = 0; i < 2; i++)
      expect(textOf(await list('d'))).toContain('Unleashed refused the stored credentials (HTTP 403)');
    expect(sim.requests).toHaveLength(2);
  });
});
