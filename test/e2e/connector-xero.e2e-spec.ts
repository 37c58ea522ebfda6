/**
 * The Xero connector on the whole app (SQLite + memory store) against the
 * Xero simulator, through the real MCP client: custom connections and OAuth
 * apps, rotating refresh tokens stored before use, one refresh for concurrent
 * calls, tenant selection, the mapping of invoices, contacts and the Profit
 * and Loss report (ISO dates, paging), Xero's errors and limits, and no
 * secret in any tool result.
 */
import { CredentialsService } from '../../src/credentials/credentials.service';
import { registerSecret } from '../support/capture';
import type { StartedApp } from '../support/start-app';
import { makeTenant } from '../simulators/xero-simulator-data';
import { validationError } from '../simulators/xero-simulator-shapes';
import { XeroSimulator } from '../simulators/xero.simulator';
import { closeXeroApp, makeOrg, Org, pause, seenResults, startXeroApp } from './xero-e2e-helpers';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const T3 = '33333333-3333-4333-8333-333333333333';
const CUSTOM = { id: 'CUSTOM-CLIENT-0001', secret: 'custom-client-secret-E2E-0001' };
const OAUTH = { id: 'OAUTH-CLIENT-0002', secret: 'oauth-client-secret-E2E-0002' };
const UNKNOWN_REFRESH = 'sim-rt-never-issued-E2E-0003';
const ROTATED_SECRETS = ['custom-secret-before-E2E-0004', 'custom-secret-after-E2E-0005'];
for (const s of [CUSTOM.secret, OAUTH.secret, UNKNOWN_REFRESH, ...ROTATED_SECRETS])
  registerSecret(s, 'xero e2e secret');

describe('Xero connector (e2e, simulator)', () => {
  let sim: XeroSimulator;
  let started: StartedApp;
  let custom: Org;
  let oauth: Org;
  const apiCalls = () => sim.requests.filter((r) => r.path.startsWith('/api.xro/2.0/'));
  const tokenCalls = () => sim.requests.filter((r) => r.path === '/connect/token');
  const stored = async (org: Org) =>
    (await started.app.get(CredentialsService).getDecrypted(org.id, 'xero')) as { refreshToken?: string };

  /** A new organisation holding an OAuth app that went through consent (its own client, so counts are its own). */
  async function oauthOrg(id: string, extra: Record<string, unknown> = {}, tenants = [T1, T2]) {
    const org = await makeOrg(started, id);
    const clientId = `OAUTH-${id}`;
    const refreshToken = sim.addOAuthApp(clientId, OAUTH.secret, tenants);
    await org.storeXero({ clientId, clientSecret: OAUTH.secret, refreshToken, ...extra });
    return { org, clientId, refreshToken };
  }

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(T1, 'Demo Company (NZ)', { invoices: 7, contacts: 4, seed: 1 }));
    sim.addTenant(makeTenant(T2, 'Second Org Ltd', { invoices: 2, contacts: 2, seed: 2 }));
    sim.addTenant(makeTenant(T3, 'Quota Tenant', { invoices: 1, contacts: 1, seed: 3 }));
    sim.addCustomConnection(CUSTOM.id, CUSTOM.secret, [T1]);
    started = await startXeroApp(sim);
    custom = await makeOrg(started, 'org-xero-custom');
    await custom.storeXero({
      grantType: 'client_credentials',
      clientId: CUSTOM.id,
      clientSecret: CUSTOM.secret,
    });
    oauth = (await oauthOrg('org-xero-oauth')).org;
  });

  beforeEach(() => {
    sim.clearRecords();
    sim.resetLimits();
  });

  afterAll(() => closeXeroApp(sim, started));

  it('lists the Xero tools to a key with xero:read only', async () => {
    expect(await custom.mcp.toolNames()).toEqual(
      expect.arrayContaining([
        'xero_list_tenants',
        'xero_list_invoices',
        'xero_list_contacts',
        'xero_profit_and_loss',
      ]),
    );
    const other = await makeOrg(started, 'org-xero-custom', ['shopify:read']);
    expect((await other.mcp.toolNames()).filter((n) => n.startsWith('xero_'))).toEqual([]);
    const denied = await other.mcp.call('xero_list_invoices', {});
    expect(denied.isError).toBe(true);
    expect(denied.text).toContain('requires the permission "xero:read"');
    expect(sim.requests).toHaveLength(0);
  });

  it('custom connection: client_credentials with Basic auth, then invoices mapped with ISO dates', async () => {
    const res = await custom.mcp.call('xero_list_invoices', {});
    expect(res.isError).toBeFalsy();
    const [token] = tokenCalls();
    expect(token.headers.authorization).toBe(
      `Basic ${Buffer.from(`${CUSTOM.id}:${CUSTOM.secret}`).toString('base64')}`,
    );
    expect(Object.fromEntries(new URLSearchParams(token.body))).toEqual({ grant_type: 'client_credentials' });
    const [api] = apiCalls();
    expect(api.headers.authorization).toMatch(/^Bearer sim-at-/);
    expect(api.headers['xero-tenant-id']).toBe(T1);
    expect(api.headers.accept).toBe('application/json');
    expect(res.data.tenantId).toBe(T1);
    expect(res.data.pagination).toEqual({ page: 1, pageSize: 100, pageCount: 1, itemCount: 7 });
    expect(res.data.invoices).toHaveLength(7);
    expect(res.data.invoices[0]).toEqual({
      invoiceId: 'a0000001-0000-4000-8000-000000000001',
      invoiceNumber: 'INV-0001',
      type: 'ACCREC',
      status: 'DRAFT',
      contact: { contactId: 'c0000001-0000-4000-8000-000000000001', name: 'Demo Company (NZ) Customer 1' },
      reference: 'Ref 1',
      date: '2018-10-20',
      dueDate: '2018-11-19',
      currencyCode: 'NZD',
      subTotal: 100,
      totalTax: 15,
      total: 115,
      amountDue: 115,
      amountPaid: 0,
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
    expect(JSON.stringify(res.data)).not.toContain('/Date(');
    // The token is reused: a second call asks for none.
    await custom.mcp.call('xero_list_contacts', {});
    expect(sim.clientCredentialsCount).toBe(1);
  });

  it('pages and filters invoices as asked', async () => {
    const page2 = await custom.mcp.call('xero_list_invoices', { page: 2, pageSize: 3 });
    expect(page2.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual([
      'INV-0004',
      'INV-0005',
      'INV-0006',
    ]);
    expect(page2.data.pagination).toEqual({ page: 2, pageSize: 3, pageCount: 3, itemCount: 7 });
    const filtered = await custom.mcp.call('xero_list_invoices', {
      statuses: ['DRAFT', 'AUTHORISED'],
      contactIds: ['c0000001-0000-4000-8000-000000000001', 'c0000001-0000-4000-8000-000000000003'],
      modifiedSince: '2016-02-19T22:00:00+02:00',
    });
    // Invoices 3 (AUTHORISED, contact 3) and 7 (DRAFT, contact 3), changed on or after 2016-02-19T20:00:00Z.
    expect(filtered.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual([
      'INV-0003',
      'INV-0007',
    ]);
    const sent = apiCalls()[1];
    expect(sent.query.get('Statuses')).toBe('DRAFT,AUTHORISED');
    expect(sent.headers['if-modified-since']).toBe('2016-02-19T20:00:00');
    const search = await custom.mcp.call('xero_list_invoices', {
      searchTerm: 'ref 5',
      invoiceNumbers: ['INV-0005'],
    });
    expect(search.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual(['INV-0005']);
    expect(sent.query.get('ContactIDs')).toBe(
      'c0000001-0000-4000-8000-000000000001,c0000001-0000-4000-8000-000000000003',
    );
    expect(apiCalls()[2].query.get('searchTerm')).toBe('ref 5');
    expect(apiCalls()[2].query.get('InvoiceNumbers')).toBe('INV-0005');
    // Each filter on its own, so that one is not doing the other's work.
    const numbers = await custom.mcp.call('xero_list_invoices', {
      invoiceNumbers: [' INV-0002', 'INV-0006'],
    });
    expect(apiCalls()[3].query.get('InvoiceNumbers')).toBe('INV-0002,INV-0006');
    expect(numbers.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual([
      'INV-0002',
      'INV-0006',
    ]);
    const searched = await custom.mcp.call('xero_list_invoices', { searchTerm: ' Ref 5 ' });
    expect(apiCalls()[4].query.get('searchTerm')).toBe('Ref 5');
    expect(searched.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual([
      'INV-0005',
    ]);
  });

  it("tells the model that invoices' searchTerm is Xero's: number and reference, not the contact's name", async () => {
    const tool = (await custom.mcp.tools()).find((t) => t.name === 'xero_list_invoices');
    const props = tool!.inputSchema.properties as Record<string, { description?: string }>;
    expect(props.searchTerm.description).toMatch(/invoice number or reference/);
    expect(props.searchTerm.description).not.toMatch(/or contact name/);
    expect(props.searchTerm.description).toContain('contactIds');
    const byName = await custom.mcp.call('xero_list_invoices', { searchTerm: 'Customer 1' });
    expect(byName.isError).toBeFalsy();
    expect(byName.data.invoices).toEqual([]);
  });

  it('a 304 Not Modified (nothing changed since modifiedSince) is an empty page that says so', async () => {
    sim.failNext({ status: 304, body: '' });
    const res = await custom.mcp.call('xero_list_invoices', {
      modifiedSince: '2026-01-01T00:00:00Z',
      page: 2,
      pageSize: 10,
    });
    expect(res.isError).toBeFalsy();
    expect(apiCalls()[0].headers['if-modified-since']).toBe('2026-01-01T00:00:00');
    expect(res.data).toEqual({
      tenantId: T1,
      invoices: [],
      pagination: { page: 2, pageSize: 10, pageCount: 0, itemCount: 0 },
    });
  });

  it('lists contacts, archived ones only when asked, and searches them', async () => {
    const active = await custom.mcp.call('xero_list_contacts', {});
    expect(active.data.contacts.map((c: { name: string }) => c.name)).toEqual([
      'Demo Company (NZ) Customer 1',
      'Demo Company (NZ) Customer 2',
      'Demo Company (NZ) Customer 3',
    ]);
    expect(active.data.contacts[1]).toMatchObject({
      contactStatus: 'ACTIVE',
      isSupplier: true,
      emailAddress: 'customer2@example.test',
      updatedDateUtc: '2016-02-19T20:29:53.000Z',
    });
    const all = await custom.mcp.call('xero_list_contacts', { includeArchived: true, pageSize: 2, page: 2 });
    expect(all.data.contacts.map((c: { contactStatus: string }) => c.contactStatus)).toEqual([
      'ACTIVE',
      'ARCHIVED',
    ]);
    expect(all.data.pagination).toEqual({ page: 2, pageSize: 2, pageCount: 2, itemCount: 4 });
    const found = await custom.mcp.call('xero_list_contacts', { searchTerm: 'CUSTOMER3@' });
    expect(found.data.contacts).toHaveLength(1);
  });

  it('flattens the Profit and Loss report and checks its dates', async () => {
    const res = await custom.mcp.call('xero_profit_and_loss', {
      fromDate: '2018-10-01',
      toDate: '2018-10-31',
      periods: 2,
      timeframe: 'QUARTER',
    });
    expect(res.isError).toBeFalsy();
    expect(res.data.columns).toEqual(['QUARTER 2018-10-31', 'QUARTER -1', 'QUARTER -2']);
    expect(res.data.rows).toContainEqual({
      section: 'Income',
      title: 'Total Income',
      values: ['1050.00', '1040.00', '1030.00'],
      summary: true,
    });
    expect(res.data.rows).toContainEqual({
      section: '',
      title: 'Net Profit',
      values: ['750.00', '740.00', '730.00'],
      summary: false,
    });
    expect(Object.fromEntries(apiCalls()[0].query)).toEqual({
      fromDate: '2018-10-01',
      toDate: '2018-10-31',
      periods: '2',
      timeframe: 'QUARTER',
    });
    expect(res.data).toMatchObject({ tenantId: T1, fromDate: '2018-10-01', toDate: '2018-10-31' });
    // One day is a range too: fromDate may be toDate.
    const oneDay = await custom.mcp.call('xero_profit_and_loss', {
      fromDate: '2018-10-31',
      toDate: '2018-10-31',
    });
    expect(oneDay.isError).toBeFalsy();
    expect(Object.fromEntries(apiCalls()[1].query)).toEqual({ fromDate: '2018-10-31', toDate: '2018-10-31' });
    const backwards = await custom.mcp.call('xero_profit_and_loss', {
      fromDate: '2018-11-01',
      toDate: '2018-10-31',
    });
    expect(backwards.isError).toBe(true);
    expect(backwards.text).toMatch(/fromDate.*must not be after toDate/);
    const periods = await custom.mcp.call('xero_profit_and_loss', {
      fromDate: '2018-10-01',
      toDate: '2018-10-31',
      periods: 13,
    });
    expect(periods.text).toContain('periods');
    const notADay = await custom.mcp.call('xero_profit_and_loss', {
      fromDate: '2018-02-30',
      toDate: '2018-10-31',
    });
    expect(notADay.isError).toBe(true);
    expect(notADay.text).toMatch(/fromDate.*must be a real date/);
    expect(apiCalls()).toHaveLength(2);
  });

  it('refuses bad arguments naming them, without calling Xero', async () => {
    const bad = await custom.mcp.call('xero_list_invoices', {
      tenantId: 'not-a-guid',
      pageSize: 5000,
      statuses: ['PENDING'],
    });
    expect(bad.isError).toBe(true);
    for (const name of ['tenantId', 'pageSize', 'statuses']) expect(bad.text).toContain(name);
    // A time whose offset takes it past year 9999 in UTC, which If-Modified-Since cannot say.
    const late = await custom.mcp.call('xero_list_invoices', { modifiedSince: '9999-12-31T23:00:00-05:00' });
    expect(late.isError).toBe(true);
    expect(late.text).toBe(
      'Invalid arguments for tool "xero_list_invoices": modifiedSince: must be a time from year 1 to 9999 in UTC',
    );
    // Xero takes the numbers as one comma-separated list: a comma in one would ask for others.
    const comma = await custom.mcp.call('xero_list_invoices', {
      invoiceNumbers: ['INV-0001', 'INV-0002,INV-0003'],
    });
    expect(comma.text).toBe(
      'Invalid arguments for tool "xero_list_invoices": invoiceNumbers.1: must not contain a comma (Xero takes the numbers as one comma-separated list)',
    );
    // ContactIDs go as one comma-separated list too: each must be one GUID.
    const ids = await custom.mcp.call('xero_list_invoices', {
      contactIds: ['c0000001-0000-4000-8000-000000000001,c0000001-0000-4000-8000-000000000002'],
    });
    expect(ids.text).toBe(
      'Invalid arguments for tool "xero_list_invoices": contactIds.0: must be a GUID like 9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a',
    );
    expect(sim.requests).toHaveLength(0);
  });

  it('OAuth app: several tenants need tenantId; the error lists them, and one named works', async () => {
    const several = await oauth.mcp.call('xero_list_invoices', {});
    expect(several.isError).toBe(true);
    expect(several.text).toContain(`${T1} (Demo Company (NZ))`);
    expect(several.text).toContain(`${T2} (Second Org Ltd)`);
    expect(several.text).toContain('tenantId');
    const tenants = await oauth.mcp.call('xero_list_tenants');
    expect(tenants.data.tenants).toEqual([
      { tenantId: T1, tenantName: 'Demo Company (NZ)', tenantType: 'ORGANISATION' },
      { tenantId: T2, tenantName: 'Second Org Ltd', tenantType: 'ORGANISATION' },
    ]);
    const second = await oauth.mcp.call('xero_list_invoices', { tenantId: T2 });
    expect(second.data.invoices.map((i: { invoiceNumber: string }) => i.invoiceNumber)).toEqual([
      'INV-0001',
      'INV-0002',
    ]);
    expect(apiCalls()[0].headers['xero-tenant-id']).toBe(T2);
    // /connections was asked once: its answer is kept with the token.
    expect(sim.requests.filter((r) => r.path === '/connections')).toHaveLength(1);
  });

  it('stores the rotated refresh token before use, and the next refresh presents it', async () => {
    const { org, clientId, refreshToken } = await oauthOrg('org-xero-rotate');
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    const [refresh] = tokenCalls();
    expect(refresh.headers.authorization).toBe(
      `Basic ${Buffer.from(`${clientId}:${OAUTH.secret}`).toString('base64')}`,
    );
    expect(Object.fromEntries(new URLSearchParams(refresh.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    const rotated = (await stored(org)).refreshToken;
    expect(rotated).toBe(sim.currentRefreshToken(clientId));
    expect(rotated).not.toBe(refreshToken);
    // The access token expires early (Xero revoked it): a 401, a refresh with the stored token, success.
    sim.expireAccessTokens();
    const again = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(again.isError).toBeFalsy();
    expect(sim.refreshTokensPresented).toEqual([refreshToken, rotated]);
    expect(apiCalls().map((r) => r.headers.authorization === apiCalls()[0].headers.authorization)).toEqual([
      true,
      true,
      false,
    ]);
    expect((await stored(org)).refreshToken).toBe(sim.currentRefreshToken(clientId));
  });

  it('a rotated refresh token that cannot be stored is not used: a tool error, and Xero is not called', async () => {
    const { org } = await oauthOrg('org-xero-unstored');
    sim.tokenDelayMs = 400;
    try {
      const call = org.mcp.call('xero_list_contacts', { tenantId: T1 });
      await pause(150);
      // Removed while Xero answers the refresh: the update of the stored credentials fails.
      await org.deleteXero();
      const res = await call;
      expect(res.isError).toBe(true);
      expect(res.text).toContain(
        'Xero issued a new refresh token but it could not be stored, so it was not used',
      );
      expect(sim.refreshCount).toBe(1);
      expect(apiCalls()).toHaveLength(0);
    } finally {
      sim.tokenDelayMs = 0;
    }
  });

  it('concurrent first calls share one refresh', async () => {
    const { org } = await oauthOrg('org-xero-concurrent');
    sim.tokenDelayMs = 300;
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => org.mcp.call('xero_list_invoices', { tenantId: T1, pageSize: 1 })),
      );
      expect(results.every((r) => !r.isError)).toBe(true);
      expect(sim.refreshCount).toBe(1);
      expect(tokenCalls()).toHaveLength(1);
    } finally {
      sim.tokenDelayMs = 0;
    }
  });

  it('a refresh token stored anew (a new consent) is used from the next call, not once the old token expires', async () => {
    const { org, clientId } = await oauthOrg('org-xero-reconsent');
    await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    const oldBearer = apiCalls()[0].headers.authorization;
    const reconsented = sim.consent(clientId);
    await org.storeXero({ clientId, clientSecret: OAUTH.secret, refreshToken: reconsented });
    const res = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(res.isError).toBeFalsy();
    expect(sim.refreshTokensPresented.at(-1)).toBe(reconsented);
    expect(sim.refreshCount).toBe(2);
    expect(apiCalls()[1].headers.authorization).not.toBe(oldBearer);
    // Its own rotation is not a new grant: the next call keeps the token.
    await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(sim.refreshCount).toBe(2);
    expect(apiCalls()[2].headers.authorization).toBe(apiCalls()[1].headers.authorization);
  });

  it('a custom connection whose secret is stored anew gets a new token at the next call', async () => {
    const org = await makeOrg(started, 'org-xero-new-secret');
    const clientId = 'CUSTOM-ROTATE-0001';
    const [before, after] = ROTATED_SECRETS;
    sim.addCustomConnection(clientId, before, [T1]);
    await org.storeXero({ grantType: 'client_credentials', clientId, clientSecret: before });
    await org.mcp.call('xero_list_contacts', {});
    expect(sim.clientCredentialsCount).toBe(1);
    sim.addCustomConnection(clientId, after, [T1]);
    await org.storeXero({ grantType: 'client_credentials', clientId, clientSecret: after });
    expect((await org.mcp.call('xero_list_contacts', {})).isError).toBeFalsy();
    expect(sim.clientCredentialsCount).toBe(2);
    await org.mcp.call('xero_list_contacts', {});
    expect(sim.clientCredentialsCount).toBe(2);
  });

  it('reuses an access token until a minute before it expires', async () => {
    sim.accessTokenTtlSeconds = 62;
    try {
      const { org } = await oauthOrg('org-xero-expiry');
      await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(sim.refreshCount).toBe(1);
      await pause(2200);
      await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(sim.refreshCount).toBe(2);
    } finally {
      sim.accessTokenTtlSeconds = 1800;
    }
  });

  it('stored tenantIds: the only one is the default, another tenant is refused, the list keeps to them', async () => {
    const { org } = await oauthOrg('org-xero-stored', { tenantIds: [T1] });
    const res = await org.mcp.call('xero_list_invoices', { pageSize: 1 });
    expect(res.data.tenantId).toBe(T1);
    expect(sim.requests.filter((r) => r.path === '/connections')).toHaveLength(0);
    const other = await org.mcp.call('xero_list_invoices', { tenantId: T2 });
    expect(other.isError).toBe(true);
    expect(other.text).toContain(`Tenant ${T2} is not one of the Xero tenants`);
    expect(other.text).toContain('PUT /credentials/xero');
    expect(
      (await org.mcp.call('xero_list_tenants')).data.tenants.map((t: { tenantId: string }) => t.tenantId),
    ).toEqual([T1]);
    expect(apiCalls()).toHaveLength(1);
  });

  it('tenantIds that are not GUIDs are refused when stored, so none can become a header', async () => {
    const org = await makeOrg(started, 'org-xero-badtenants');
    const stored = org.storeXero({
      clientId: 'OAUTH-org-xero-badtenants',
      clientSecret: OAUTH.secret,
      tenantIds: [`${T1}\r\nx-injected: 1`],
    });
    await expect(stored).rejects.toThrow(
      /PUT \/credentials\/xero answered 400: .*tenantIds\.0.*must be a Xero tenant id \(a GUID\)/,
    );
    expect(apiCalls()).toHaveLength(0);
  });

  it('a tenant the connection cannot reach (403) is a tool error saying so', async () => {
    const res = await custom.mcp.call('xero_list_contacts', { tenantId: T2 });
    expect(res.isError).toBe(true);
    expect(res.text).toContain(`no access to tenant ${T2} (HTTP 403)`);
  });

  it('an OAuth app without a refresh token, or with one Xero refuses, tells an admin what to store', async () => {
    const org = await makeOrg(started, 'org-xero-noconsent');
    await org.storeXero({ clientId: OAUTH.id, clientSecret: OAUTH.secret });
    const none = await org.mcp.call('xero_list_invoices', { tenantId: T1 });
    expect(none.isError).toBe(true);
    expect(none.text).toContain("complete Xero's consent flow");
    expect(none.text).toContain('`refreshToken` with PUT /credentials/xero');
    expect(tokenCalls()).toHaveLength(0);

    const { org: expired, clientId } = await oauthOrg('org-xero-badgrant');
    await expired.storeXero({ clientId, clientSecret: OAUTH.secret, refreshToken: UNKNOWN_REFRESH });
    const refused = await expired.mcp.call('xero_list_invoices', { tenantId: T1 });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain(
      'Xero refused the stored refresh token: it expired (60 days unused) or was replaced',
    );
    expect(refused.text).toContain('PUT /credentials/xero');
    expect(sim.refreshTokensPresented).toEqual([UNKNOWN_REFRESH]);
  });

  it('a wrong client secret, and missing credentials, are tool errors naming the fix', async () => {
    const org = await makeOrg(started, 'org-xero-badsecret');
    await org.storeXero({
      grantType: 'client_credentials',
      clientId: CUSTOM.id,
      clientSecret: 'wrong-secret-E2E-0004',
    });
    const bad = await org.mcp.call('xero_list_invoices', {});
    expect(bad.isError).toBe(true);
    expect(bad.text).toBe(
      'Xero refused the stored credentials (HTTP 400); an admin can replace them with PUT /credentials/xero.',
    );
    const none = await makeOrg(started, 'org-xero-none');
    const missing = await none.mcp.call('xero_list_tenants');
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain('No Xero credentials are stored for this organisation');
    expect(missing.text).toContain('PUT /credentials/xero');
  });

  it('a 401 gets a new token and one more try; a second 401 is a refusal', async () => {
    const { org } = await oauthOrg('org-xero-401');
    await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    sim.clearRecords();
    const unauthorized = { Title: 'Unauthorized', Status: 401, Detail: 'TokenExpired: token expired' };
    sim.failNext({ status: 401, body: unauthorized });
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
    expect(sim.refreshCount).toBe(1);
    sim.failNext({ status: 401, body: unauthorized }, { status: 401, body: unauthorized });
    const refused = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('Xero refused the stored credentials (HTTP 401)');
    expect(sim.refreshCount).toBe(2);
  });

  it("honours a 429's Retry-After; a day limit is told to the caller with when to retry", async () => {
    sim.failNext({ status: 429, retryAfter: 1, problem: 'minute' });
    const started429 = Date.now();
    const ok = await custom.mcp.call('xero_list_contacts', {});
    expect(ok.isError).toBeFalsy();
    expect(Date.now() - started429).toBeGreaterThanOrEqual(950);
    expect(apiCalls()).toHaveLength(2);
    // A tenant's day is then held (connector-xero-rate-limits): an app of its own, so the others here are not.
    const { org } = await oauthOrg('org-xero-day-429');
    sim.clearRecords();
    sim.failNext({ status: 429, retryAfter: 3600, problem: 'day' });
    const day = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(day.isError).toBe(true);
    expect(day.text).toContain(`Xero's daily limit for tenant ${T1}`);
    expect(day.text).toContain('retry after 3600 s');
    expect(apiCalls()).toHaveLength(1);
  });

  it("the simulator's own per-tenant minute limit: its 429 reaches the caller with when to retry", async () => {
    // The tenant's minute is then held (connector-xero-rate-limits): an app of its own, so the others here are not.
    const { org } = await oauthOrg('org-xero-minute-429');
    sim.minuteLimit = 1;
    try {
      // Near the end of a minute the simulator's Retry-After (the seconds left in it) is within
      // UPSTREAM_MAX_RETRY_WAIT_MS (10 s by default), so the call would wait and succeed: start in a new minute.
      if (Date.now() % 60_000 > 48_000) await pause(60_000 - (Date.now() % 60_000) + 100);
      sim.clearRecords();
      expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
      const limited = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
      expect(limited.isError).toBe(true);
      const after = Number(/retry after (\d+) s/.exec(limited.text)?.[1]);
      expect(after).toBeGreaterThan(4);
      expect(after).toBeLessThanOrEqual(60);
      // Its Retry-After is over UPSTREAM_MAX_RETRY_WAIT_MS: told, not waited for.
      expect(apiCalls()).toHaveLength(2);
    } finally {
      sim.minuteLimit = 60;
    }
  }, 30_000);

  it("keeps under Xero's 60 calls a minute per app and tenant, retries counted, without calling it", async () => {
    const org = await makeOrg(started, 'org-xero-quota');
    sim.addCustomConnection('QUOTA-CLIENT-0005', CUSTOM.secret, [T3]);
    const sameApp = {
      grantType: 'client_credentials',
      clientId: 'QUOTA-CLIENT-0005',
      clientSecret: CUSTOM.secret,
    };
    await org.storeXero(sameApp);
    // Another organisation here with the same Xero app and tenant: Xero counts both against one budget.
    const other = await makeOrg(started, 'org-xero-quota-2');
    await other.storeXero(sameApp);
    sim.minuteLimit = 1000;
    try {
      // Start well inside a minute, so the fixed window does not turn during the test.
      if (Date.now() % 60_000 > 45_000) await pause(60_000 - (Date.now() % 60_000) + 100);
      for (let i = 0; i < 57; i++) expect((await org.mcp.call('xero_list_contacts', {})).isError).toBeFalsy();
      // A 503 and its retry: two calls Xero counts.
      sim.failNext({ status: 503 });
      expect((await org.mcp.call('xero_list_contacts', {})).isError).toBeFalsy();
      expect((await other.mcp.call('xero_list_contacts', {})).isError).toBeFalsy();
      expect(apiCalls()).toHaveLength(60);
      for (const caller of [org, other]) {
        const refused = await caller.mcp.call('xero_list_contacts', {});
        expect(refused.isError).toBe(true);
        expect(refused.text).toMatch(
          /^Xero allows 60 calls a minute per tenant and app, and that many have been made; retry after \d+ s\.$/,
        );
      }
      expect(apiCalls()).toHaveLength(60);
    } finally {
      sim.minuteLimit = 60;
    }
  }, 40_000);

  it('5xx: retried, then a tool error; a failing token endpoint is not retried', async () => {
    sim.failNext({ status: 503 }, { status: 503 }, { status: 503 });
    const failing = await custom.mcp.call('xero_list_contacts', {});
    expect(failing.isError).toBe(true);
    expect(failing.text).toContain('Xero is failing (HTTP 503)');
    expect(apiCalls()).toHaveLength(3);
    const { org } = await oauthOrg('org-xero-token-5xx');
    sim.clearRecords();
    sim.failNext({ status: 500, on: 'token' });
    const token = await org.mcp.call('xero_list_contacts', { tenantId: T1 });
    expect(token.isError).toBe(true);
    expect(token.text).toContain('Xero is failing (HTTP 500)');
    expect(tokenCalls()).toHaveLength(1);
    // Nothing rotated, so the stored refresh token still works.
    expect((await org.mcp.call('xero_list_contacts', { tenantId: T1 })).isError).toBeFalsy();
  });

  it("a ValidationException's messages and a 404 become tool errors without Xero's body", async () => {
    sim.failNext({ status: 400, body: validationError('Invalid status: APPROVED').body });
    const invalid = await custom.mcp.call('xero_list_invoices', {});
    expect(invalid.text).toBe('Xero refused the request: Invalid status: APPROVED');
    sim.failNext({ status: 404, body: '<html><body>Not found</body></html>' });
    const missing = await custom.mcp.call('xero_list_invoices', {});
    expect(missing.isError).toBe(true);
    expect(missing.text).toBe('Xero has no such invoices.');
  });

  it('no tool result ever carried a client secret, a refresh token or an access token', () => {
    const secrets = [CUSTOM.secret, OAUTH.secret, UNKNOWN_REFRESH, ...sim.issued];
    expect(sim.issued.length).toBeGreaterThan(10);
    expect(seenResults.length).toBeGreaterThan(50);
    for (const result of seenResults) for (const secret of secrets) expect(result).not.toContain(secret);
    for (const result of seenResults) expect(result).not.toMatch(/sim-(at|rt)-/);
  });
});
