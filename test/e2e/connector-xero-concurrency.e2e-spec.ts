jest.setTimeout(60_000);

/**
 * Xero's limit of 5 calls at a time per tenant, against a simulator that
 * enforces it as Xero does (a 429 to the sixth call in flight): more than 5
 * concurrent calls for one tenant all succeed without the simulator ever
 * having more than 5 in flight, on one instance (memory store) and across two
 * sharing Redis; a call that finds no free slot within the bounded wait is a
 * tool error saying when to retry; another tenant is not held up.
 */
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
import { closeCallers, makeOrg, Org, pause, seenResults, ToolResult } from './xero-e2e-helpers';

const T1 = '55555555-5555-4555-8555-555555555555';
const T2 = '66666666-6666-4666-8666-666666666666';
const SECRET = 'oauth-client-secret-E2E-concurrency-0001';
registerSecret(SECRET, 'xero concurrency e2e');

const LIMITS = {
  RATE_LIMIT_IP_MAX: '100000',
  RATE_LIMIT_MAX: '100000',
  UPSTREAM_BREAKER_FAILURES: '100',
  // These tests count what reaches the upstream; the answer cache has a spec of its own (tool-result-cache).
  MCP_TOOL_CACHE_TTL: '0',
};

async function startSimulator(): Promise<XeroSimulator> {
  const sim = await XeroSimulator.start();
  sim.addTenant(makeTenant(T1, 'Busy Company', { invoices: 3, contacts: 1, seed: 5 }));
  sim.addTenant(makeTenant(T2, 'Quiet Company', { invoices: 1, contacts: 1, seed: 6 }));
  return sim;
}

async function connectOrg(sim: XeroSimulator, apps: StartedApp[], clientId: string): Promise<Org[]> {
  const orgId = uniqueName('org_xero_conc');
  const orgs = [];
  for (const app of apps) orgs.push(await makeOrg(app, orgId));
  const refreshToken = sim.addOAuthApp(clientId, SECRET, [T1, T2]);
  await orgs[0].storeXero({ clientId, clientSecret: SECRET, refreshToken });
  return orgs;
}

const listInvoices = (org: Org, tenantId: string) =>
  org.mcp.call('xero_list_invoices', { tenantId, pageSize: 1 });
const apiCalls = (sim: XeroSimulator) => sim.requests.filter((r) => r.path.startsWith('/api.xro/2.0/'));
const outcomes = (results: ToolResult[]) => results.map((r) => (r.isError ? r.text : 'ok'));

afterAll(async () => {
  await closeCallers();
});

describe('Xero: 5 calls at a time per tenant (one instance)', () => {
  let sim: XeroSimulator;
  let started: StartedApp;
  let org: Org;

  beforeAll(async () => {
    sim = await startSimulator();
    started = await startApp({ XERO_API_BASE_URL: sim.url, XERO_IDENTITY_BASE_URL: sim.url, ...LIMITS });
    [org] = await connectOrg(sim, [started], 'CONC-CLIENT-ONE');
    await listInvoices(org, T1); // the token is got before the calls race
  });

  beforeEach(() => sim.clearRecords());

  afterAll(async () => {
    for (const t of sim?.issued ?? []) registerSecret(t, 'xero simulator token');
    await started?.close();
    await sim?.close();
  });

  it('12 concurrent calls for one tenant all succeed; Xero never has more than 5 in flight', async () => {
    sim.apiDelayMs = 300;
    try {
      const results = await Promise.all(Array.from({ length: 12 }, () => listInvoices(org, T1)));
      expect(outcomes(results)).toEqual(Array(12).fill('ok'));
    } finally {
      sim.apiDelayMs = 0;
    }
    expect(sim.maxConcurrentApiRequests).toBe(5);
    expect(sim.concurrentRefusals).toBe(0);
    expect(apiCalls(sim)).toHaveLength(12); // none refused and sent again
  });

  it('a call that gets no slot within the wait is told when to retry; another tenant goes ahead', async () => {
    sim.apiDelayMs = 7000; // longer than the 5 s a call waits for a slot
    const holders = Array.from({ length: 5 }, () => listInvoices(org, T1));
    try {
      await pause(300);
      const started6 = Date.now();
      const [sixth, other] = await Promise.all([listInvoices(org, T1), listInvoices(org, T2)]);
      expect(Date.now() - started6).toBeGreaterThanOrEqual(4900);
      expect(sixth.isError).toBe(true);
      expect(sixth.text).toBe(
        'Xero takes at most 5 calls at a time for this organisation, and 5 were still running after 5 s; ' +
          'retry after 2 s.',
      );
      expect(other.isError).toBeFalsy(); // T2's slots are its own
      expect(apiCalls(sim).filter((r) => r.headers['xero-tenant-id'] === T1)).toHaveLength(5);
    } finally {
      sim.apiDelayMs = 0;
    }
    expect(outcomes(await Promise.all(holders))).toEqual(Array(5).fill('ok'));
    expect(sim.concurrentRefusals).toBe(0);
  });
});

describeWithPostgresAndRedis('Xero: 5 calls at a time per tenant across two instances sharing Redis', () => {
  const schema = uniqueName('xero_conc');
  let sim: XeroSimulator;
  let a: StartedApp;
  let b: StartedApp;

  beforeAll(async () => {
    sim = await startSimulator();
    const env = {
      ...AUTH_ENV,
      ...LIMITS,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${schema}:`,
      XERO_API_BASE_URL: sim.url,
      XERO_IDENTITY_BASE_URL: sim.url,
    };
    a = await startApp(env);
    b = await startApp(env);
  });

  afterAll(async () => {
    for (const t of sim?.issued ?? []) registerSecret(t, 'xero simulator token');
    await a?.close();
    await b?.close();
    await sim?.close();
    await dropSchema(schema);
  });

  it('12 concurrent calls, 6 on each, all succeed; Xero never has more than 5 in flight', async () => {
    const [onA, onB] = await connectOrg(sim, [a, b], 'CONC-CLIENT-TWO');
    // Each instance gets its token (one refresh at a time) before the calls race.
    await listInvoices(onA, T1);
    await listInvoices(onB, T1);
    sim.clearRecords();
    sim.apiDelayMs = 300;
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => listInvoices(i % 2 ? onA : onB, T1)),
      );
      expect(outcomes(results)).toEqual(Array(12).fill('ok'));
    } finally {
      sim.apiDelayMs = 0;
    }
    expect(sim.maxConcurrentApiRequests).toBe(5);
    expect(sim.concurrentRefusals).toBe(0);
    expect(apiCalls(sim)).toHaveLength(12);
    for (const result of seenResults)
      for (const secret of [SECRET, ...sim.issued]) expect(result).not.toContain(secret);
  });
});
