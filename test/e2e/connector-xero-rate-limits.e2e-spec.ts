/**
 * Xero's own rate-limit answers on the whole app (SQLite + memory store)
 * against the simulator: a 429 names the limit its X-Rate-Limit-Problem
 * says was hit and when to retry, and a tenant's day or minute is then held
 * here, unsent, until Xero's Retry-After has passed; an answer saying the
 * day is spent (X-DayLimit-Remaining: 0) holds the tenant too. The
 * simulator's Retry-After is kept short, and UPSTREAM_MAX_RETRY_WAIT_MS at
 * 0, so that a 429 ends the call rather than being waited out.
 */
import { registerSecret } from '../support/capture';
import type { StartedApp } from '../support/start-app';
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';
import { closeXeroApp, makeOrg, Org, pause, startXeroApp } from './xero-e2e-helpers';

const T1 = 'a1111111-1111-4111-8111-111111111111';
const T2 = 'a2222222-2222-4222-8222-222222222222';
const SECRET = 'oauth-client-secret-E2E-rate-0001';
registerSecret(SECRET, 'xero rate-limit e2e');

describe("Xero's rate limits (e2e, simulator)", () => {
  let sim: XeroSimulator;
  let started: StartedApp;
  const apiCalls = () => sim.requests.filter((r) => r.path.startsWith('/api.xro/2.0/'));
  const daily = (tenant: string) =>
    new RegExp(
      `^Xero's daily limit for tenant ${tenant} \\(5000 calls a day per tenant and app\\) was reached; ` +
        'retry after (\\d+) s \\(at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\.$',
    );

  /** A new organisation with an OAuth app of its own (so its budget is its own) for T1 and T2. */
  async function orgWithApp(id: string): Promise<Org> {
    const org = await makeOrg(started, id);
    const clientId = `RATE-${id}`;
    await org.storeXero({
      clientId,
      clientSecret: SECRET,
      refreshToken: sim.addOAuthApp(clientId, SECRET, [T1, T2]),
    });
    return org;
  }

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(T1, 'Limited Company', { invoices: 2, contacts: 2, seed: 11 }));
    sim.addTenant(makeTenant(T2, 'Other Company', { invoices: 2, contacts: 2, seed: 12 }));
    started = await startXeroApp(sim, { UPSTREAM_MAX_RETRY_WAIT_MS: '0' });
  });

  beforeEach(() => {
    sim.clearRecords();
    sim.resetLimits();
  });

  afterAll(() => closeXeroApp(sim, started));

  it("a day problem names the tenant's daily limit; the tenant is then refused unsent until the wait is over, another tenant is not", async () => {
    const org = await orgWithApp('org-rate-day');
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    sim.clearRecords();
    sim.failNext({ status: 429, retryAfter: 3, problem: 'day' });
    const limited = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(limited.isError).toBe(true);
    expect(limited.text).toMatch(daily(T1));
    expect(limited.text).toContain('retry after 3 s');
    expect(limited.text).not.toContain('Rate limit exceeded'); // the 429's body
    expect(apiCalls()).toHaveLength(1);
    const refused = await org.mcp.call('xero_list_invoices', { tenantId: T1 });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(daily(T1));
    expect(apiCalls()).toHaveLength(1);
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T2 })).isError).toBeFalsy();
    expect(apiCalls()).toHaveLength(2);
    await pause(3_100);
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    expect(apiCalls()).toHaveLength(3);
  }, 30_000);

  it("the simulator's own minute limit: named, then the tenant is refused unsent", async () => {
    const org = await orgWithApp('org-rate-minute');
    sim.minuteLimit = 1;
    try {
      // Well inside a minute, so the simulator's window (and its Retry-After, the rest of it) does not run out mid-test.
      if (Date.now() % 60_000 > 50_000) await pause(60_000 - (Date.now() % 60_000) + 100);
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
      const limited = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(limited.text).toMatch(
        new RegExp(
          `^Xero's minute limit for tenant ${T1} \\(60 calls a minute per tenant and app\\) was reached; retry after \\d+ s `,
        ),
      );
      expect(apiCalls()).toHaveLength(2);
      const refused = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/^Xero's minute limit for tenant /);
      expect(apiCalls()).toHaveLength(2);
    } finally {
      sim.minuteLimit = 60;
    }
  }, 30_000);

  it('an answer saying the day is spent (X-DayLimit-Remaining: 0) holds the tenant without another call to Xero', async () => {
    const org = await orgWithApp('org-rate-day-spent');
    sim.dayLimit = 2;
    try {
      for (let i = 0; i < 2; i++)
        expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
      const refused = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(daily(T1));
      expect(apiCalls()).toHaveLength(2);
    } finally {
      sim.dayLimit = 5000;
    }
  });

  it("the app's minute, an unknown problem or none are named as such, and hold nothing", async () => {
    const org = await orgWithApp('org-rate-other');
    sim.appMinuteLimit = 1;
    try {
      // Well inside a minute, so the simulator's Retry-After (the rest of it) is over the wait allowed.
      if (Date.now() % 60_000 > 50_000) await pause(60_000 - (Date.now() % 60_000) + 100);
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T2 })).text).toMatch(
        /^Xero's minute limit for this organisation's Xero app \(10000 calls a minute across its tenants\) was reached; retry after \d+ s /,
      );
    } finally {
      sim.appMinuteLimit = 10_000;
    }
    sim.failNext({ status: 429, retryAfter: 30, problem: 'concurrent' }, { status: 429, retryAfter: 30 });
    for (let i = 0; i < 2; i++)
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).text).toMatch(
        new RegExp(`^Xero's rate limit for tenant ${T1} was reached; retry after 30 s `),
      );
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T2 })).isError).toBeFalsy();
    expect(apiCalls()).toHaveLength(6);
  }, 30_000);

  it('a malformed or absent Retry-After holds nothing', async () => {
    const org = await orgWithApp('org-rate-malformed');
    sim.failNext({ status: 429, problem: 'day', retryAfter: 'tomorrow' }, { status: 429, problem: 'day' });
    for (let i = 0; i < 2; i++)
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).text).toBe(
        `Xero's daily limit for tenant ${T1} (5000 calls a day per tenant and app) was reached; retry later.`,
      );
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    expect(apiCalls()).toHaveLength(3);
  });
});
