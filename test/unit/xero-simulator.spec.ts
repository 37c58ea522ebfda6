/**
 * The Xero simulator refuses what Xero refuses, in Xero's shapes: the
 * connector's e2e specs run against it, so whatever it accepts and Xero does
 * not would hide a connector bug.
 */
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';

const TENANT = '8f2c1a4e-5b6d-4e7f-9a0b-1c2d3e4f5a6b';
const OTHER_TENANT = '1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d';

describe('XeroSimulator', () => {
  let sim: XeroSimulator;
  let accessToken: string;

  beforeAll(async () => {
    sim = await XeroSimulator.start();
    sim.addTenant(makeTenant(TENANT, 'Demo Company', { invoices: 6, contacts: 3, bankTransactions: 6 }));
    sim.addTenant(makeTenant(OTHER_TENANT, 'Other Company', { seed: 2 }));
    sim.addCustomConnection('custom-1', 'secret-1', [TENANT]);
    accessToken = (await token('custom-1', 'secret-1')).access_token as string;
  });

  afterAll(() => sim.close());

  // The specs share one simulator: none of them is about its minute limit.
  beforeEach(() => sim.resetLimits());

  async function token(clientId: string, secret: string, form: Record<string, string> = {}) {
    const res = await fetch(`${sim.url}/connect/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
    });
    return (await res.json()) as Record<string, unknown>;
  }

  async function get(path: string, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const url = new URL(`${sim.url}/api.xro/2.0/${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const res = await fetch(url, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        'xero-tenant-id': TENANT,
        accept: 'application/json',
        ...headers,
      },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  describe('where', () => {
    it('takes a value of the field type: Guid("…"), DateTime(…), true/false, a number, a "string"', async () => {
      const accounts = await get('Accounts');
      const bank = (accounts.body.Accounts as { AccountID: string }[])[0].AccountID;
      const res = await get('BankTransactions', {
        where:
          `BankAccount.AccountID==Guid("${bank}") AND Date>=DateTime(2018, 10, 01) AND ` +
          'IsReconciled==true AND Total>0 AND Status=="AUTHORISED"',
      });
      expect(res.status).toBe(200);
      expect((res.body.BankTransactions as unknown[]).length).toBeGreaterThan(0);
    });

    it.each([
      [
        'a GUID field with a string',
        'Contact.ContactID=="c0000001-0000-4000-8000-000000000001"',
        'Guid',
        'String',
      ],
      [
        'a string field with a Guid',
        'Reference==Guid("c0000001-0000-4000-8000-000000000001")',
        'String',
        'Guid',
      ],
      ['a date field with a string', 'Date>="2018-10-01"', 'DateTime', 'String'],
      ['a boolean field with a string', 'IsReconciled=="true"', 'Boolean', 'String'],
      ['a number field with a string', 'Total>"5"', 'Decimal', 'String'],
    ])('refuses %s as Xero does (QueryParseException)', async (_, where, field, value) => {
      const res = await get('BankTransactions', { where });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        ErrorNumber: 16,
        Type: 'QueryParseException',
        Message: expect.stringContaining(`incompatible with operand types '${field}' and '${value}'`),
      });
    });

    it('refuses a DateTime(…) of a day that does not exist rather than rolling it over', async () => {
      for (const where of [
        'Date>=DateTime(2018, 13, 01)',
        'Date>=DateTime(2018, 06, 31)',
        'Date>=DateTime(2018, 0, 1)',
      ]) {
        const res = await get('BankTransactions', { where });
        expect(res.status).toBe(400);
        expect(res.body.Type).toBe('QueryParseException');
      }
      expect((await get('BankTransactions', { where: 'Date>=DateTime(2020, 02, 29)' })).status).toBe(200);
    });

    it('compares a GUID or a boolean only for (in)equality', async () => {
      const guid = await get('BankTransactions', {
        where: 'Contact.ContactID>Guid("c0000001-0000-4000-8000-000000000001")',
      });
      expect(guid.status).toBe(400);
      expect(guid.body.Type).toBe('QueryParseException');
      const bool = await get('BankTransactions', { where: 'IsReconciled>=true' });
      expect(bool.status).toBe(400);
      expect(bool.body.Type).toBe('QueryParseException');
    });

    it('refuses a field the resource does not have, and unreadable syntax, as a QueryParseException', async () => {
      const unknown = await get('Accounts', { where: 'Colour=="BLUE"' });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual({
        ErrorNumber: 16,
        Type: 'QueryParseException',
        Message: "No property or field 'Colour' exists in type 'Account'",
      });
      const syntax = await get('Accounts', { where: 'Type=="BANK" AND' });
      expect(syntax.status).toBe(400);
      expect(syntax.body.Type).toBe('QueryParseException');
      const order = await get('Accounts', { order: 'Colour DESC' });
      expect(order.status).toBe(400);
      expect(order.body.Type).toBe('QueryParseException');
    });

    it("takes Xero's other spellings: = and <>, guid(…) in any case, && and ||, and or or, null", async () => {
      const refs = async (where: string) => {
        const res = await get('BankTransactions', { where });
        expect(res.status).toBe(200);
        return (res.body.BankTransactions as { Reference: string }[]).map((b) => b.Reference);
      };
      const contact = 'c0000001-0000-4000-8000-000000000001';
      expect(await refs('Status="VOIDED"')).toEqual(await refs('Status=="VOIDED"'));
      expect(await refs('Status="VOIDED"')).toEqual(['Bank ref 5']);
      expect(await refs(`Contact.ContactID=guid("${contact}")`)).toEqual(
        await refs(`Contact.ContactID==Guid("${contact}")`),
      );
      expect(await refs(`Contact.ContactID=GUID("${contact}")`)).toEqual(['Bank ref 1', 'Bank ref 4']);
      expect(await refs('Type=="RECEIVE"&&IsReconciled==true')).toEqual(['Bank ref 1']);
      expect(await refs('Type == "SPEND" || Type == "SPEND-TRANSFER"')).toEqual([
        'Bank ref 2',
        'Bank ref 4',
        'Bank ref 5',
      ]);
      expect(await refs('Type=="RECEIVE" and Total>100 or Status=="VOIDED"')).toEqual([
        'Bank ref 3',
        'Bank ref 5',
        'Bank ref 6',
      ]);
      expect(await refs('Reference<>"Bank ref 1" AND Reference!=null AND Total<=150')).toEqual([
        'Bank ref 2',
      ]);
      expect(await refs('Reference==null')).toEqual([]);
      // null is compared for (in)equality only, as a GUID or a boolean is.
      expect((await get('BankTransactions', { where: 'Total>null' })).status).toBe(400);
    });

    it('applies where and order on Invoices and Contacts too, and refuses a bad one there', async () => {
      const invoices = await get('Invoices', { where: 'Type=="ACCPAY" OR Total>=500', order: 'Total DESC' });
      expect(invoices.status).toBe(200);
      const got = invoices.body.Invoices as { Type: string; Total: number }[];
      expect(got.map((i) => i.Total)).toEqual([690, 575, 460]);
      expect(got.every((i) => i.Type === 'ACCPAY' || i.Total >= 500)).toBe(true);
      const contacts = await get('Contacts', { where: 'IsSupplier==true' });
      expect((contacts.body.Contacts as { Name: string }[]).map((c) => c.Name)).toEqual([
        'Demo Company Customer 2',
      ]);
      const ordered = await get('Contacts', { order: 'Name DESC' });
      expect((ordered.body.Contacts as { Name: string }[]).map((c) => c.Name)).toEqual([
        'Demo Company Customer 2',
        'Demo Company Customer 1',
      ]);
      for (const [path, query] of [
        ['Invoices', { where: 'Contact.ContactID=="c0000001-0000-4000-8000-000000000001"' }],
        ['Invoices', { order: 'Colour' }],
        ['Contacts', { where: 'IsCustomer=="true"' }],
      ] as const) {
        const refused = await get(path, query);
        expect(refused.status).toBe(400);
        expect(refused.body.Type).toBe('QueryParseException');
      }
    });
  });

  it("searches invoices' number and reference only (Xero's searchTerm), not their contact's name", async () => {
    const numbers = (res: { body: Record<string, unknown> }) =>
      (res.body.Invoices as { InvoiceNumber: string }[]).map((i) => i.InvoiceNumber);
    expect(numbers(await get('Invoices', { searchTerm: 'inv-0002' }))).toEqual(['INV-0002']);
    expect(numbers(await get('Invoices', { searchTerm: 'REF 3' }))).toEqual(['INV-0003']);
    const byContact = await get('Invoices', { searchTerm: 'Customer 1' });
    expect(byContact.status).toBe(200);
    expect(numbers(byContact)).toEqual([]);
  });

  describe('paging', () => {
    let many: XeroSimulator;
    beforeAll(async () => {
      many = await XeroSimulator.start();
      many.addTenant(makeTenant(TENANT, 'Big Company', { invoices: 150 }));
      many.addCustomConnection('custom-1', 'secret-1', [TENANT]);
    });
    afterAll(() => many.close());

    async function invoices(query: Record<string, string>) {
      const { access_token } = (await (
        await fetch(`${many.url}/connect/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('custom-1:secret-1').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        })
      ).json()) as { access_token: string };
      const res = await fetch(`${many.url}/api.xro/2.0/Invoices?${new URLSearchParams(query).toString()}`, {
        headers: {
          authorization: `Bearer ${access_token}`,
          'xero-tenant-id': TENANT,
          accept: 'application/json',
        },
      });
      return (await res.json()) as { Invoices: unknown[]; pagination?: Record<string, number> };
    }

    it('pages only when `page` is given: 100 by default, pageSize with it', async () => {
      const first = await invoices({ page: '1' });
      expect(first.Invoices).toHaveLength(100);
      expect(first.pagination).toEqual({ page: 1, pageSize: 100, pageCount: 2, itemCount: 150 });
      const sized = await invoices({ page: '2', pageSize: '40' });
      expect(sized.Invoices).toHaveLength(40);
      expect(sized.pagination).toEqual({ page: 2, pageSize: 40, pageCount: 4, itemCount: 150 });
    });

    it('without `page`, answers every item and no pagination, as Xero does (pageSize alone is ignored)', async () => {
      const all = await invoices({});
      expect(all.Invoices).toHaveLength(150);
      expect(all).not.toHaveProperty('pagination');
      const sizeOnly = await invoices({ pageSize: '10' });
      expect(sizeOnly.Invoices).toHaveLength(150);
      expect(sizeOnly).not.toHaveProperty('pagination');
    });
  });

  describe('401 and 403', () => {
    const problem = (status: number, title: string, detail: string | RegExp) => ({
      Type: null,
      Title: title,
      Status: status,
      Detail: typeof detail === 'string' ? detail : expect.stringMatching(detail),
      Instance: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Extensions: {},
    });

    it('a token it never issued, or none: 401 AuthorizationUnsuccessful', async () => {
      for (const authorization of ['Bearer sim-at-never-issued', '']) {
        const res = await get('Organisation', {}, { authorization });
        expect(res.status).toBe(401);
        expect(res.body).toEqual(problem(401, 'Unauthorized', 'AuthorizationUnsuccessful'));
      }
    });

    it('an expired token: 401 TokenExpired with when, as MM/dd/yyyy HH:mm:ss', async () => {
      const own = await XeroSimulator.start();
      try {
        own.addTenant(makeTenant(TENANT, 'Demo Company'));
        own.addCustomConnection('custom-1', 'secret-1', [TENANT]);
        const res = await fetch(`${own.url}/connect/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('custom-1:secret-1').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        });
        const { access_token } = (await res.json()) as { access_token: string };
        own.expireAccessTokens();
        const api = await fetch(`${own.url}/api.xro/2.0/Organisation`, {
          headers: {
            authorization: `Bearer ${access_token}`,
            'xero-tenant-id': TENANT,
            accept: 'application/json',
          },
        });
        expect(api.status).toBe(401);
        expect(await api.json()).toEqual(
          problem(401, 'Unauthorized', /^TokenExpired: token expired at \d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/),
        );
      } finally {
        await own.close();
      }
    });

    it('no xero-tenant-id, or a tenant the app is not connected to: 403 AuthenticationUnsuccessful', async () => {
      const missing = await fetch(`${sim.url}/api.xro/2.0/Organisation`, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      });
      expect(missing.status).toBe(403);
      expect(await missing.json()).toEqual(problem(403, 'Forbidden', 'AuthenticationUnsuccessful'));
      const other = await get('Organisation', {}, { 'xero-tenant-id': OTHER_TENANT });
      expect(other.status).toBe(403);
      expect(other.body).toEqual(problem(403, 'Forbidden', 'AuthenticationUnsuccessful'));
      expect((await get('Organisation')).status).toBe(200);
    });
  });

  describe('token endpoint', () => {
    let identity: XeroSimulator;
    beforeEach(async () => {
      identity = await XeroSimulator.start();
      identity.addCustomConnection('custom-1', 'secret-1', [TENANT]);
    });
    afterEach(() => identity.close());

    async function post(form: Record<string, string>, clientId = 'oauth-1', secret = 'secret-2') {
      const res = await fetch(`${identity.url}/connect/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(form).toString(),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }

    it('rotates refresh tokens; a replaced one works within the grace period, then is invalid_grant', async () => {
      const first = identity.addOAuthApp('oauth-1', 'secret-2', [TENANT]);
      const rotated = await post({ grant_type: 'refresh_token', refresh_token: first });
      expect(rotated.status).toBe(200);
      expect(rotated.body.refresh_token).not.toBe(first);
      // Within the grace period (30 minutes by default) the replaced one still works.
      expect((await post({ grant_type: 'refresh_token', refresh_token: first })).status).toBe(200);
      identity.refreshGraceMs = 0;
      const late = await post({ grant_type: 'refresh_token', refresh_token: first });
      expect(late).toEqual({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('a grant the client may not use is unauthorized_client, whatever token comes with it', async () => {
      identity.addOAuthApp('oauth-1', 'secret-2', [TENANT]);
      expect(await post({ grant_type: 'client_credentials' })).toEqual({
        status: 400,
        body: { error: 'unauthorized_client' },
      });
      // A custom connection has no refresh tokens: Xero refuses the grant itself, not the token.
      const custom = await post(
        { grant_type: 'refresh_token', refresh_token: 'sim-rt-x' },
        'custom-1',
        'secret-1',
      );
      expect(custom).toEqual({ status: 400, body: { error: 'unauthorized_client' } });
    });

    it('a wrong secret is invalid_client', async () => {
      expect(await post({ grant_type: 'client_credentials' }, 'custom-1', 'wrong')).toEqual({
        status: 400,
        body: { error: 'invalid_client' },
      });
    });
  });

  it('takes report periods from 1 to 12 only, as Xero documents them', async () => {
    for (const report of ['Reports/ProfitAndLoss', 'Reports/BalanceSheet']) {
      expect((await get(report)).status).toBe(200);
      expect((await get(report, { periods: '12', timeframe: 'QUARTER' })).status).toBe(200);
      for (const periods of ['0', '13', '1.5']) {
        const refused = await get(report, { periods });
        expect(refused.status).toBe(400);
        expect(refused.body.Type).toBe('ValidationException');
      }
    }
  });

  it('over 5 calls at a time for a tenant: a 429 without Retry-After, its body not JSON', async () => {
    sim.apiDelayMs = 200;
    try {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${sim.url}/api.xro/2.0/Organisation`, {
            headers: {
              authorization: `Bearer ${accessToken}`,
              'xero-tenant-id': TENANT,
              accept: 'application/json',
            },
          }),
        ),
      );
      const refused = answers.filter((a) => a.status === 429);
      expect(refused).toHaveLength(1);
      expect(refused[0].headers.get('retry-after')).toBeNull();
      expect(refused[0].headers.get('x-rate-limit-problem')).toBe('concurrent');
      expect(refused[0].headers.get('content-type')).toMatch(/^text\/plain/);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
      await Promise.all(answers.map((a) => a.text()));
    } finally {
      sim.apiDelayMs = 0;
    }
  });
});
