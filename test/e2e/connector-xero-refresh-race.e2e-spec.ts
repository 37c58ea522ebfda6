jest.setTimeout(30_000);

/**
 * An admin's PUT /credentials/xero that lands while a refresh waits for
 * Xero's answer (the simulator holds the token request; the PUT is sent once
 * the simulator has it). The refresh read the old record under its lock, but
 * a PUT takes no lock: the refresh's write of the rotated token is a
 * compare-and-set, so the admin's credentials stand, the tokens issued for the
 * old grant are never stored or used, and the call refreshes once more from
 * the admin's credentials (replaced a second time meanwhile, it is a tool
 * error telling the caller to retry). The whole app, SQLite and memory store.
 */
import { CredentialsService } from '../../src/credentials/credentials.service';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';
import { closeCallers, makeOrg, pause, seenResults } from './xero-e2e-helpers';

const T1 = '55555555-5555-4555-8555-555555555555';
const T2 = '66666666-6666-4666-8666-666666666666';
const T3 = '77777777-7777-4777-8777-777777777777';
const SECRET = 'oauth-client-secret-E2E-race-0001';
registerSecret(SECRET, 'xero race e2e');
/** Long enough for a PUT to be answered while the simulator holds the token request. */
const TOKEN_DELAY_MS = 1_500;

describe('Xero refresh racing an admin PUT /credentials/xero (e2e, simulator)', () => {
  let sim: XeroSimulator;
  let started: StartedApp;
  const tokenCalls = () => sim.requests.filter((r) => r.path === '/connect/token');
  const upstreamReads = () => sim.requests.filter((r) => r.path !== '/connect/token');
  const stored = (orgId: string) => started.app.get(CredentialsService).getDecrypted(orgId, 'xero');

  /** Resolves once the simulator has received `n` token requests (it records one before holding it). */
  async function tokenRequestsReceived(n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (tokenCalls().length < n) {
      if (Date.now() > deadline) throw new Error(`the simulator never received token request ${n}`);
      await pause(5);
    }
  }

  /** An OAuth app that went through consent, connected to `tenants` only. */
  function app(clientId: string, tenants: string[]) {
    return { clientId, clientSecret: SECRET, refreshToken: sim.addOAuthApp(clientId, SECRET, tenants) };
  }

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(T1, 'Old App Company', { invoices: 1, contacts: 1, seed: 1 }));
    sim.addTenant(makeTenant(T2, 'New App Company', { invoices: 1, contacts: 1, seed: 2 }));
    sim.addTenant(makeTenant(T3, 'Newest App Company', { invoices: 1, contacts: 1, seed: 3 }));
    started = await startApp({ XERO_API_BASE_URL: sim.url, XERO_IDENTITY_BASE_URL: sim.url });
  });

  beforeEach(() => sim.clearRecords());

  afterEach(() => {
    sim.tokenDelayMs = 0;
  });

  afterAll(async () => {
    for (const t of sim?.issued ?? []) registerSecret(t, 'xero simulator token');
    await closeCallers();
    await started?.close();
    await sim?.close();
  });

  it("keeps the admin's credentials and answers the call from them, not from the old grant", async () => {
    const org = await makeOrg(started, 'org-xero-race-once');
    const old = app('RACE-OLD-0001', [T1]);
    await org.storeXero(old);
    const replacement = app('RACE-NEW-0001', [T2]);

    sim.tokenDelayMs = TOKEN_DELAY_MS;
    const call = org.mcp.call('xero_list_tenants');
    await tokenRequestsReceived(1);
    // Xero is answering the refresh of the old app's token; the admin stores another app meanwhile.
    await org.storeXero(replacement);
    const res = await call;

    // The call refreshed once more, from the admin's app, and read with that app's token.
    expect(res.isError).toBeFalsy();
    expect(res.data.tenants.map((t: { tenantId: string }) => t.tenantId)).toEqual([T2]);
    expect(sim.refreshTokensPresented).toEqual([old.refreshToken, replacement.refreshToken]);
    expect(sim.refreshCount).toBe(2);
    // The admin's app is what is stored, with its own rotated refresh token; the old app's rotation was dropped.
    expect(await stored(org.id)).toEqual({
      grantType: 'authorization_code',
      clientId: replacement.clientId,
      clientSecret: SECRET,
      refreshToken: sim.currentRefreshToken(replacement.clientId),
    });
    expect(sim.currentRefreshToken(replacement.clientId)).not.toBe(replacement.refreshToken);

    // And later calls go on with it: no further refresh, the same tenant.
    const later = await org.mcp.call('xero_list_tenants');
    expect(later.data.tenants.map((t: { tenantId: string }) => t.tenantId)).toEqual([T2]);
    expect(sim.refreshCount).toBe(2);
  });

  it('replaced again during the second refresh: a tool error saying to retry, the last PUT stands', async () => {
    const org = await makeOrg(started, 'org-xero-race-twice');
    const old = app('RACE-OLD-0002', [T1]);
    await org.storeXero(old);
    const second = app('RACE-NEW-0002', [T2]);
    const third = app('RACE-NEWEST-0002', [T3]);

    sim.tokenDelayMs = TOKEN_DELAY_MS;
    const call = org.mcp.call('xero_list_tenants');
    await tokenRequestsReceived(1);
    await org.storeXero(second);
    await tokenRequestsReceived(2);
    await org.storeXero(third);
    const res = await call;

    expect(res.isError).toBe(true);
    expect(res.text).toContain(
      'The Xero credentials were replaced twice while this call refreshed its token',
    );
    expect(res.text).toContain('retry the call');
    expect(sim.refreshTokensPresented).toEqual([old.refreshToken, second.refreshToken]);
    // Neither token was used, and the last PUT is stored as the admin sent it.
    expect(upstreamReads()).toHaveLength(0);
    expect(await stored(org.id)).toEqual({ grantType: 'authorization_code', ...third });

    // The retry the error asks for works, from the admin's last credentials.
    sim.tokenDelayMs = 0;
    const retried = await org.mcp.call('xero_list_tenants');
    expect(retried.data.tenants.map((t: { tenantId: string }) => t.tenantId)).toEqual([T3]);
    expect(sim.refreshTokensPresented.at(-1)).toBe(third.refreshToken);
  });

  it('no tool result carried a client secret, a refresh token or an access token', () => {
    for (const result of seenResults)
      for (const secret of [SECRET, ...sim.issued]) expect(result).not.toContain(secret);
  });
});
