/**
 * The Xero connector's ledger tools on the whole app (SQLite + memory store)
 * against the Xero simulator, through the real MCP client: the organisation,
 * the chart of accounts (unpaged, filtered through a `where` the tool
 * writes), bank transactions (filtered, ordered, paged) and the Balance
 * Sheet; their arguments refused by name before any call; the permission;
 * the stored credentials and the tenant header being what reaches Xero; no
 * secret, and not the organisation's API key, in any result.
 */
import { CredentialsService } from '../../src/credentials/credentials.service';
import { registerSecret } from '../support/capture';
import type { StartedApp } from '../support/start-app';
import { makeTenant } from '../simulators/xero-simulator-data';
import { SIM_ORGANISATION_API_KEY } from '../simulators/xero-simulator-ledger';
import { XeroSimulator } from '../simulators/xero.simulator';
import { closeXeroApp, makeOrg, Org, seenResults, startXeroApp } from './xero-e2e-helpers';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const CUSTOM = { id: 'LEDGER-CUSTOM-0001', secret: 'ledger-custom-secret-E2E-0001' };
const OAUTH = { id: 'LEDGER-OAUTH-0002', secret: 'ledger-oauth-secret-E2E-0002' };
registerSecret(CUSTOM.secret, 'xero ledger e2e secret');
registerSecret(OAUTH.secret, 'xero ledger e2e secret');

/** Ids the simulator gives tenant 1 (seed 1): accounts d…, bank transactions e…, contacts c…, organisation f…. */
const id = (letter: string, n: number) =>
  `${letter}0000001-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const BANK_090 = id('d', 1);
const NEW_TOOLS = [
  'xero_get_organisation',
  'xero_list_accounts',
  'xero_list_bank_transactions',
  'xero_balance_sheet',
];

describe('Xero ledger tools (e2e, simulator)', () => {
  let sim: XeroSimulator;
  let started: StartedApp;
  let custom: Org;
  const apiCalls = () => sim.requests.filter((r) => r.path.startsWith('/api.xro/2.0/'));
  const refs = (r: { data: { bankTransactions: { reference: string }[] } }) =>
    r.data.bankTransactions.map((t) => t.reference);

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(T1, 'Demo Company (NZ)', { contacts: 4, bankTransactions: 7, seed: 1 }));
    sim.addTenant(makeTenant(T2, 'Second Org Ltd', { contacts: 2, bankTransactions: 2, seed: 2 }));
    sim.addCustomConnection(CUSTOM.id, CUSTOM.secret, [T1]);
    started = await startXeroApp(sim);
    custom = await makeOrg(started, 'org-ledger-custom');
    await custom.storeXero({
      grantType: 'client_credentials',
      clientId: CUSTOM.id,
      clientSecret: CUSTOM.secret,
    });
  });

  beforeEach(() => {
    sim.clearRecords();
    sim.resetLimits();
  });

  afterAll(() => closeXeroApp(sim, started));

  it('lists the ledger tools to a key with xero:read, and refuses them to a key without it', async () => {
    expect(await custom.mcp.toolNames()).toEqual(expect.arrayContaining(NEW_TOOLS));
    const other = await makeOrg(started, 'org-ledger-custom', ['shopify:read']);
    expect((await other.mcp.toolNames()).filter((n) => n.startsWith('xero_'))).toEqual([]);
    for (const name of NEW_TOOLS) {
      const denied = await other.mcp.call(name, {});
      expect(denied.isError).toBe(true);
      expect(denied.text).toBe(
        `Permission denied: the tool "${name}" requires the permission "xero:read", which this API key does not hold.`,
      );
    }
    expect(sim.requests).toHaveLength(0);
  });

  it('gets the organisation: the stored client credentials and the tenant header reach Xero; no API key comes back', async () => {
    const res = await custom.mcp.call('xero_get_organisation');
    expect(res.isError).toBeFalsy();
    const [token] = sim.requests.filter((r) => r.path === '/connect/token');
    expect(token.headers.authorization).toBe(
      `Basic ${Buffer.from(`${CUSTOM.id}:${CUSTOM.secret}`).toString('base64')}`,
    );
    const [api] = apiCalls();
    expect(api.path).toBe('/api.xro/2.0/Organisation');
    expect(api.headers['xero-tenant-id']).toBe(T1);
    expect(sim.issued).toContain(api.headers.authorization?.replace(/^Bearer /, ''));
    expect([...api.query.keys()]).toEqual([]);
    expect(res.data).toEqual({
      tenantId: T1,
      organisation: {
        organisationId: id('f', 1),
        name: 'Demo Company (NZ)',
        legalName: 'Demo Company (NZ) Limited',
        shortCode: '!00001',
        organisationType: 'COMPANY',
        organisationStatus: 'ACTIVE',
        isDemoCompany: false,
        countryCode: 'NZ',
        baseCurrency: 'NZD',
        timezone: 'NEWZEALANDSTANDARDTIME',
        paysTax: true,
        salesTaxBasis: 'PAYMENTS',
        salesTaxPeriod: 'TWOMONTHS',
        financialYearEndDay: 31,
        financialYearEndMonth: 3,
        periodLockDate: '2018-09-30',
        createdDateUtc: '2016-02-18T20:29:53.000Z',
      },
    });
    expect(res.text).not.toContain(SIM_ORGANISATION_API_KEY);
  });

  it('lists the active accounts by code in one answer, through a where and order it writes itself', async () => {
    const res = await custom.mcp.call('xero_list_accounts');
    expect(res.isError).toBeFalsy();
    expect(res.data.accounts.map((a: { code: string }) => a.code)).toEqual([
      '090',
      '091',
      '200',
      '260',
      '310',
      '469',
      '610',
      '800',
      '820',
      '970',
    ]);
    expect(res.data.pagination).toBeUndefined();
    const [sent] = apiCalls();
    expect(sent.query.get('where')).toBe('Status=="ACTIVE"');
    expect(sent.query.get('order')).toBe('Code ASC');
    expect(sent.query.has('page')).toBe(false);
    expect(res.data.accounts.find((a: { code: string }) => a.code === '610')).toMatchObject({
      class: 'ASSET',
      type: 'CURRENT',
      systemAccount: 'DEBTORS',
    });
    expect(JSON.stringify(res.data)).not.toContain('/Date(');

    const banks = await custom.mcp.call('xero_list_accounts', { types: ['BANK'] });
    expect(apiCalls()[1].query.get('where')).toBe('Status=="ACTIVE" AND Type=="BANK"');
    expect(banks.data.accounts).toEqual([
      {
        accountId: BANK_090,
        code: '090',
        name: 'Business Bank Account',
        type: 'BANK',
        class: 'ASSET',
        status: 'ACTIVE',
        taxType: 'NONE',
        bankAccountNumber: '12-3456-0090000-00',
        bankAccountType: 'BANK',
        currencyCode: 'NZD',
        enablePaymentsToAccount: false,
        reportingCode: 'ASS',
        updatedDateUtc: '2016-02-18T20:29:53.000Z',
      },
      expect.objectContaining({ code: '091', name: 'Business Savings Account', type: 'BANK' }),
    ]);

    const expenses = await custom.mcp.call('xero_list_accounts', {
      classes: ['EXPENSE', 'LIABILITY'],
      types: ['OVERHEADS', 'DIRECTCOSTS'],
      includeArchived: true,
      orderBy: 'name',
    });
    expect(apiCalls()[2].query.get('where')).toBe(
      '(Type=="OVERHEADS" OR Type=="DIRECTCOSTS") AND (Class=="EXPENSE" OR Class=="LIABILITY")',
    );
    expect(apiCalls()[2].query.get('order')).toBe('Name ASC');
    expect(
      expenses.data.accounts.map((a: { name: string; status: string }) => `${a.name} ${a.status}`),
    ).toEqual(['Cost of Goods Sold ACTIVE', 'Rent ACTIVE', 'Wages and Salaries ARCHIVED']);
  });

  it('lists bank transactions mapped, oldest first, paged as asked', async () => {
    const res = await custom.mcp.call('xero_list_bank_transactions');
    expect(res.isError).toBeFalsy();
    expect(res.data.pagination).toEqual({ page: 1, pageSize: 100, pageCount: 1, itemCount: 7 });
    expect(res.data.bankTransactions[0]).toEqual({
      bankTransactionId: id('e', 1),
      type: 'RECEIVE',
      status: 'AUTHORISED',
      contact: { contactId: id('c', 1), name: 'Demo Company (NZ) Customer 1' },
      bankAccount: { accountId: BANK_090, code: '090', name: 'Business Bank Account' },
      reference: 'Bank ref 1',
      date: '2018-10-20',
      isReconciled: true,
      currencyCode: 'NZD',
      subTotal: 50,
      totalTax: 7.5,
      total: 57.5,
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
    expect(res.data.bankTransactions.map((t: { date: string }) => t.date)).toEqual([
      '2018-10-20',
      '2018-10-22',
      '2018-10-24',
      '2018-10-26',
      '2018-10-28',
      '2018-10-30',
      '2018-11-01',
    ]);
    expect(JSON.stringify(res.data)).not.toContain('/Date(');
    const [sent] = apiCalls();
    expect(sent.query.has('where')).toBe(false);
    expect(sent.query.get('order')).toBe('Date ASC');
    expect(sent.headers['xero-tenant-id']).toBe(T1);

    const page3 = await custom.mcp.call('xero_list_bank_transactions', { page: 3, pageSize: 3 });
    expect(refs(page3)).toEqual(['Bank ref 7']);
    expect(page3.data.pagination).toEqual({ page: 3, pageSize: 3, pageCount: 3, itemCount: 7 });
    expect(apiCalls()[1].query.get('page')).toBe('3');
    expect(apiCalls()[1].query.get('pageSize')).toBe('3');
    const past = await custom.mcp.call('xero_list_bank_transactions', { page: 4, pageSize: 3 });
    expect(past.data.bankTransactions).toEqual([]);
  });

  it('filters bank transactions by account, dates, status, reconciliation, type and contact, newest first', async () => {
    const unreconciled = await custom.mcp.call('xero_list_bank_transactions', {
      bankAccountId: BANK_090,
      fromDate: '2018-10-21',
      toDate: '2018-10-31',
      statuses: ['AUTHORISED'],
      isReconciled: false,
    });
    expect(apiCalls()[0].query.get('where')).toBe(
      `Status=="AUTHORISED" AND BankAccount.AccountID==Guid("${BANK_090}") AND ` +
        'Date>=DateTime(2018, 10, 21) AND Date<=DateTime(2018, 10, 31) AND IsReconciled==false',
    );
    expect(refs(unreconciled)).toEqual(['Bank ref 3']);
    expect(unreconciled.data.pagination.itemCount).toBe(1);

    const spent = await custom.mcp.call('xero_list_bank_transactions', {
      types: ['SPEND', 'SPEND-TRANSFER'],
      newestFirst: true,
    });
    expect(apiCalls()[1].query.get('where')).toBe('(Type=="SPEND" OR Type=="SPEND-TRANSFER")');
    expect(apiCalls()[1].query.get('order')).toBe('Date DESC');
    expect(refs(spent)).toEqual(['Bank ref 7', 'Bank ref 5', 'Bank ref 4', 'Bank ref 2']);

    const withContact = await custom.mcp.call('xero_list_bank_transactions', {
      contactId: id('c', 2),
      types: ['SPEND'],
    });
    expect(refs(withContact)).toEqual(['Bank ref 2']);
    const voided = await custom.mcp.call('xero_list_bank_transactions', { statuses: ['VOIDED', 'DELETED'] });
    expect(voided.data.bankTransactions.map((t: { status: string }) => t.status)).toEqual(['VOIDED']);
  });

  it('takes a one-day window (fromDate equal to toDate), and either bound of the window alone', async () => {
    const oneDay = await custom.mcp.call('xero_list_bank_transactions', {
      fromDate: '2018-10-22',
      toDate: '2018-10-22',
    });
    expect(oneDay.isError).toBeFalsy();
    expect(apiCalls()[0].query.get('where')).toBe(
      'Date>=DateTime(2018, 10, 22) AND Date<=DateTime(2018, 10, 22)',
    );
    expect(refs(oneDay)).toEqual(['Bank ref 2']);
    const from = await custom.mcp.call('xero_list_bank_transactions', { fromDate: '2018-10-30' });
    expect(from.isError).toBeFalsy();
    expect(apiCalls()[1].query.get('where')).toBe('Date>=DateTime(2018, 10, 30)');
    expect(refs(from)).toEqual(['Bank ref 6', 'Bank ref 7']);
    const to = await custom.mcp.call('xero_list_bank_transactions', { toDate: '2018-10-21' });
    expect(to.isError).toBeFalsy();
    expect(apiCalls()[2].query.get('where')).toBe('Date<=DateTime(2018, 10, 21)');
    expect(refs(to)).toEqual(['Bank ref 1']);
  });

  it('the Balance Sheet as at a day with earlier periods, flattened like the Profit and Loss', async () => {
    const res = await custom.mcp.call('xero_balance_sheet', {
      date: '2018-10-31',
      periods: 2,
      timeframe: 'MONTH',
    });
    expect(res.isError).toBeFalsy();
    const [sent] = apiCalls();
    expect(sent.path).toBe('/api.xro/2.0/Reports/BalanceSheet');
    expect(Object.fromEntries(sent.query)).toEqual({ date: '2018-10-31', periods: '2', timeframe: 'MONTH' });
    expect(res.data).toMatchObject({
      tenantId: T1,
      date: '2018-10-31',
      reportName: 'Balance Sheet',
      reportTitles: ['Balance Sheet', 'Demo Company (NZ)', 'As at 31 Oct 2018'],
      columns: ['31 Oct 2018', '30 Sep 2018', '31 Aug 2018'],
    });
    expect(res.data.updatedDateUtc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(res.data.rows).toEqual(
      expect.arrayContaining([
        {
          section: 'Bank',
          title: 'Business Bank Account',
          values: ['5000.00', '4900.00', '4800.00'],
          summary: false,
        },
        { section: 'Bank', title: 'Total Bank', values: ['7000.00', '6900.00', '6800.00'], summary: true },
        { section: '', title: 'Net Assets', values: ['7500.00', '7340.00', '7180.00'], summary: false },
        {
          section: 'Equity',
          title: 'Total Equity',
          values: ['7500.00', '7340.00', '7180.00'],
          summary: true,
        },
      ]),
    );
    expect(res.data.rows).toHaveLength(14);

    const yearly = await custom.mcp.call('xero_balance_sheet', {
      date: '2020-02-29',
      periods: 1,
      timeframe: 'YEAR',
    });
    expect(yearly.data.columns).toEqual(['29 Feb 2020', '28 Feb 2019']);
    // Without a date Xero takes the end of the current month; none is sent, and none is claimed.
    const current = await custom.mcp.call('xero_balance_sheet');
    expect(current.isError).toBeFalsy();
    expect([...apiCalls()[2].query.keys()]).toEqual([]);
    expect(current.data.date).toBeUndefined();
    expect(current.data.columns).toHaveLength(1);
  });

  it('refuses bad arguments naming each one, without calling Xero', async () => {
    const GUID_LIKE = 'must be a GUID like 9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
    const cases: [string, Record<string, unknown>, string][] = [
      ['xero_get_organisation', { tenantId: 'T1' }, `tenantId: ${GUID_LIKE}`],
      ['xero_list_accounts', { types: ['BANKS'] }, 'types.0: must be one of: BANK, CURRENT, CURRLIAB, '],
      ['xero_list_accounts', { classes: [] }, 'classes: must have at least 1 item'],
      ['xero_list_accounts', { orderBy: 'date' }, 'orderBy: must be one of: code, name'],
      [
        'xero_list_accounts',
        { where: 'Type=="BANK"' },
        'where: is not a known field (known: tenantId, types, classes, includeArchived, orderBy)',
      ],
      ['xero_list_bank_transactions', { bankAccountId: '090' }, `bankAccountId: ${GUID_LIKE}`],
      ['xero_list_bank_transactions', { contactId: 'Customer 1' }, `contactId: ${GUID_LIKE}`],
      [
        'xero_list_bank_transactions',
        { statuses: ['PAID'] },
        'statuses.0: must be one of: AUTHORISED, DELETED, VOIDED',
      ],
      [
        'xero_list_bank_transactions',
        { types: ['TRANSFER'] },
        'types.0: must be one of: RECEIVE, RECEIVE-OVERPAYMENT, ',
      ],
      ['xero_list_bank_transactions', { fromDate: '2018-10-32' }, 'fromDate: must be a real date'],
      ['xero_list_bank_transactions', { toDate: '31/10/2018' }, 'toDate: must be a date YYYY-MM-DD'],
      [
        'xero_list_bank_transactions',
        { fromDate: '2018-11-01', toDate: '2018-10-31' },
        'fromDate: must not be after toDate',
      ],
      [
        'xero_list_bank_transactions',
        { isReconciled: 'no' },
        'isReconciled: must be a boolean, not a string',
      ],
      ['xero_list_bank_transactions', { pageSize: 1001 }, 'pageSize: must be at most 1000'],
      ['xero_list_bank_transactions', { page: 0 }, 'page: must be at least 1'],
      ['xero_balance_sheet', { date: '2018-02-30' }, 'date: must be a real date'],
      ['xero_balance_sheet', { periods: 13 }, 'periods: must be at most 12'],
      ['xero_balance_sheet', { periods: 0 }, 'periods: must be at least 1'],
      ['xero_balance_sheet', { timeframe: 'WEEK' }, 'timeframe: must be one of: MONTH, QUARTER, YEAR'],
      ['xero_balance_sheet', { fromDate: '2018-10-01' }, 'fromDate: is not a known field'],
    ];
    for (const [tool, args, message] of cases) {
      const res = await custom.mcp.call(tool, args);
      expect({ tool, args, isError: res.isError }).toEqual({ tool, args, isError: true });
      // The one field's message, whole (an ending comma: the list of codes goes on).
      const text = `Invalid arguments for tool "${tool}": ${message}`;
      if (message.endsWith(', ')) expect(res.text.startsWith(text)).toBe(true);
      else if (message.endsWith('known field')) expect(res.text).toContain(text);
      else expect(res.text).toBe(text);
    }
    expect(sim.requests).toHaveLength(0);
  });

  it('OAuth app with two tenants: the named tenant is the header, and the stored refresh token is the one presented', async () => {
    const org = await makeOrg(started, 'org-ledger-oauth');
    const refreshToken = sim.addOAuthApp(OAUTH.id, OAUTH.secret, [T1, T2]);
    await org.storeXero({ clientId: OAUTH.id, clientSecret: OAUTH.secret, refreshToken });
    const several = await org.mcp.call('xero_get_organisation');
    expect(several.isError).toBe(true);
    expect(several.text).toContain('Several Xero tenants are connected; pass tenantId');
    expect(sim.refreshTokensPresented).toEqual([refreshToken]);

    const second = await org.mcp.call('xero_get_organisation', { tenantId: T2 });
    expect(second.data.organisation.name).toBe('Second Org Ltd');
    const accounts = await org.mcp.call('xero_list_accounts', { tenantId: T2, types: ['BANK'] });
    expect(accounts.data.accounts[0].accountId).toBe('d0000002-0000-4000-8000-000000000001');
    const bank = await org.mcp.call('xero_list_bank_transactions', { tenantId: T2 });
    expect(bank.data.pagination.itemCount).toBe(2);
    const sheet = await org.mcp.call('xero_balance_sheet', { tenantId: T2, date: '2018-10-31' });
    expect(sheet.data.reportTitles).toContain('Second Org Ltd');
    expect(apiCalls().map((r) => r.headers['xero-tenant-id'])).toEqual([T2, T2, T2, T2]);
    const stored = (await started.app.get(CredentialsService).getDecrypted(org.id, 'xero')) as {
      refreshToken: string;
    };
    expect(stored.refreshToken).toBe(sim.currentRefreshToken(OAUTH.id));
    expect(sim.refreshCount).toBe(1);
  });

  it("Xero's refusals of these reads become tool errors without its body", async () => {
    sim.failNext({ status: 404, body: '<html><body>Not found</body></html>' });
    const missing = await custom.mcp.call('xero_balance_sheet', { date: '2018-10-31' });
    expect(missing.text).toBe('Xero has no Balance Sheet for this date.');
    sim.failNext({ status: 200, body: { Status: 'OK', Organisations: [] } });
    const empty = await custom.mcp.call('xero_get_organisation');
    expect(empty.isError).toBe(true);
    expect(empty.text).toContain('an empty Organisations list in the answer');
  });

  it('no tool result carried a client secret, a token or the organisation API key', () => {
    const secrets = [CUSTOM.secret, OAUTH.secret, SIM_ORGANISATION_API_KEY, ...sim.issued];
    expect(seenResults.length).toBeGreaterThan(30);
    for (const result of seenResults) for (const secret of secrets) expect(result).not.toContain(secret);
  });
});
