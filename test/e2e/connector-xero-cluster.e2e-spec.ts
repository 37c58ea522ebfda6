jest.setTimeout(60_000);

/**
 * The Xero refresh across two app instances sharing PostgreSQL (own schema)
 * and Redis (own key prefix). Access tokens live in each process, so each
 * instance refreshes once; the lock in Redis makes those refreshes one at a
 * time, each starting from the refresh token the other stored, so the chain
 * of rotated refresh tokens never forks and the stored one stays the newest.
 */
import { CredentialsService } from '../../src/credentials/credentials.service';
import {
  describeWithPostgresAndRedis,
  dropSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';
import { AUTH_ENV } from './auth-helpers';
import { closeCallers, makeOrg, pause, seenResults } from './xero-e2e-helpers';

const TENANT = '44444444-4444-4444-8444-444444444444';
const SECRET = 'oauth-client-secret-E2E-cluster-0001';
registerSecret(SECRET, 'xero cluster e2e');

describeWithPostgresAndRedis('Xero refresh across two instances sharing Redis', () => {
  const schema = uniqueName('xero_cluster');
  let sim: XeroSimulator;
  let a: StartedApp;
  let b: StartedApp;

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(TENANT, 'Cluster Company'));
    const env = {
      ...AUTH_ENV,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${schema}:`,
      XERO_API_BASE_URL: sim.url,
      XERO_IDENTITY_BASE_URL: sim.url,
      // These tests count what reaches the upstream; the answer cache has a spec of its own (tool-result-cache).
      MCP_TOOL_CACHE_TTL: '0',
    };
    a = await startApp(env);
    b = await startApp(env);
  });

  afterAll(async () => {
    for (const t of sim?.issued ?? []) registerSecret(t, 'xero simulator token');
    await closeCallers();
    await a?.close();
    await b?.close();
    await sim?.close();
    await dropSchema(schema);
  });

  it('concurrent first calls on both: one refresh at a time, each from the token the other stored', async () => {
    const orgId = uniqueName('org_xero');
    const onA = await makeOrg(a, orgId);
    const onB = await makeOrg(b, orgId);
    const first = sim.addOAuthApp('CLUSTER-CLIENT-0001', SECRET, [TENANT]);
    await onA.storeXero({ clientId: 'CLUSTER-CLIENT-0001', clientSecret: SECRET, refreshToken: first });
    // Both instances have read (and cached) the credentials before the race.
    for (const app of [a, b]) await app.app.get(CredentialsService).getDecrypted(orgId, 'xero');
    sim.tokenDelayMs = 300;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? onA : onB).mcp.call('xero_list_invoices', { pageSize: 1 }),
      ),
    );
    expect(results.map((r) => r.isError ?? false)).toEqual(Array(8).fill(false));
    // One refresh per instance (access tokens never leave a process), never two at once.
    expect(sim.refreshCount).toBe(2);
    expect(sim.maxConcurrentTokenRequests).toBe(1);
    const [p1, p2] = sim.refreshTokensPresented;
    expect(p1).toBe(first);
    expect(p2).not.toBe(first);
    const newest = sim.currentRefreshToken('CLUSTER-CLIENT-0001');
    for (const app of [a, b])
      expect(await app.app.get(CredentialsService).getDecrypted(orgId, 'xero')).toMatchObject({
        refreshToken: newest,
      });
    // Each instance keeps its token: the other's rotation is of the same grant (its lineage is in the store).
    await Promise.all([onA, onB, onA, onB].map((o) => o.mcp.call('xero_list_invoices', { pageSize: 1 })));
    expect(sim.refreshCount).toBe(2);
    for (const result of seenResults)
      for (const secret of [SECRET, ...sim.issued]) expect(result).not.toContain(secret);
  });

  it("a tenant's day that Xero said is used up, on one instance, is refused unsent on the other", async () => {
    const OTHER = '99999999-9999-4999-8999-999999999999';
    sim.addTenant(makeTenant(OTHER, 'Other Cluster Company'));
    const orgId = uniqueName('org_xero_429');
    const onA = await makeOrg(a, orgId);
    const onB = await makeOrg(b, orgId);
    const refreshToken = sim.addOAuthApp('CLUSTER-429', SECRET, [TENANT, OTHER]);
    await onA.storeXero({ clientId: 'CLUSTER-429', clientSecret: SECRET, refreshToken });
    sim.clearRecords();
    // Over UPSTREAM_MAX_RETRY_WAIT_MS (10 s by default), so told rather than waited out.
    sim.failNext({ status: 429, retryAfter: 30, problem: 'day' });
    const limited = await onA.mcp.call('xero_list_contacts', { tenantId: TENANT });
    const daily = `Xero's daily limit for tenant ${TENANT} (5000 calls a day per tenant and app) was reached; retry after`;
    expect(limited.text).toContain(`${daily} 30 s`);
    const apiCalls = () => sim.requests.filter((r) => r.path.startsWith('/api.xro/2.0/')).length;
    expect(apiCalls()).toBe(1);
    const refused = await onB.mcp.call('xero_list_invoices', { tenantId: TENANT });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain(daily);
    expect(apiCalls()).toBe(1);
    expect((await onB.mcp.call('xero_list_contacts', { tenantId: OTHER })).isError).toBeFalsy();
    expect(apiCalls()).toBe(2);
  });

  it("an admin's PUT on one instance during the other's refresh stands, and that call answers from it", async () => {
    const T2 = '88888888-8888-4888-8888-888888888888';
    sim.addTenant(makeTenant(T2, 'Replacement Company'));
    const orgId = uniqueName('org_xero_race');
    const onA = await makeOrg(a, orgId);
    const onB = await makeOrg(b, orgId);
    const old = { clientId: 'CLUSTER-RACE-OLD', clientSecret: SECRET };
    const replacement = { clientId: 'CLUSTER-RACE-NEW', clientSecret: SECRET };
    await onA.storeXero({ ...old, refreshToken: sim.addOAuthApp(old.clientId, SECRET, [TENANT]) });
    const newRefresh = sim.addOAuthApp(replacement.clientId, SECRET, [T2]);
    sim.clearRecords();
    sim.tokenDelayMs = 1_500;
    try {
      const call = onA.mcp.call('xero_list_tenants');
      // A's refresh has read the old app under the lock and waits for Xero: the PUT goes to B.
      while (!sim.requests.some((r) => r.path === '/connect/token')) await pause(5);
      await onB.storeXero({ ...replacement, refreshToken: newRefresh });
      const res = await call;
      expect(res.isError).toBeFalsy();
      expect(res.data.tenants.map((t: { tenantId: string }) => t.tenantId)).toEqual([T2]);
      expect(sim.refreshTokensPresented).toEqual([expect.any(String), newRefresh]);
    } finally {
      sim.tokenDelayMs = 0;
    }
    for (const app of [a, b])
      expect(await app.app.get(CredentialsService).getDecrypted(orgId, 'xero')).toMatchObject({
        ...replacement,
        refreshToken: sim.currentRefreshToken(replacement.clientId),
      });
  });
});
