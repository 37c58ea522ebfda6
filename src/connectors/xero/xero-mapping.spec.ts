import { UpstreamError } from '../http/upstream.errors';
import {
  collection,
  flattenReport,
  mapAccount,
  mapBankTransaction,
  mapConnections,
  mapContact,
  mapInvoice,
  mapOrganisation,
  only,
  pagination,
  validationDetail,
} from './xero-mapping';

describe('Xero shape mapping', () => {
  it('maps an invoice to camelCase with ISO dates, leaving out fields of the wrong type', () => {
    const invoice = mapInvoice({
      InvoiceID: '243216c5-369e-4056-ac67-05388f86dc81',
      InvoiceNumber: 'INV-0001',
      Type: 'ACCREC',
      Status: 'AUTHORISED',
      Contact: { ContactID: 'c-1', Name: 'ABC Limited', EmailAddress: 'not-returned@example.test' },
      Date: '/Date(1539993600000+0000)/',
      DueDate: '/Date(1542585600000+0000)/',
      CurrencyCode: 'NZD',
      SubTotal: 100,
      TotalTax: 15,
      Total: 115,
      AmountDue: '115',
      AmountPaid: 0,
      UpdatedDateUTC: '/Date(1455827393000)/',
      LineItems: [{ Description: 'not returned' }],
    });
    expect(invoice).toEqual({
      invoiceId: '243216c5-369e-4056-ac67-05388f86dc81',
      invoiceNumber: 'INV-0001',
      type: 'ACCREC',
      status: 'AUTHORISED',
      contact: { contactId: 'c-1', name: 'ABC Limited' },
      reference: undefined,
      date: '2018-10-20',
      dueDate: '2018-11-19',
      currencyCode: 'NZD',
      subTotal: 100,
      totalTax: 15,
      total: 115,
      amountDue: undefined,
      amountPaid: 0,
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
  });

  it('prefers the ISO twins of an invoice date when Xero sends them', () => {
    const invoice = mapInvoice({ Date: '/Date(1539993600000+0000)/', DateString: '2018-10-21T00:00:00' });
    expect(invoice.date).toBe('2018-10-21');
  });

  it('maps a contact', () => {
    expect(
      mapContact({
        ContactID: 'c-2',
        Name: 'Bayside Club',
        FirstName: 'Bo',
        LastName: 'Bayside',
        EmailAddress: 'bo@bayside.example',
        ContactStatus: 'ARCHIVED',
        IsCustomer: true,
        IsSupplier: 'no',
        UpdatedDateUTC: '/Date(1455827393000+0000)/',
      }),
    ).toMatchObject({
      contactId: 'c-2',
      name: 'Bayside Club',
      firstName: 'Bo',
      lastName: 'Bayside',
      emailAddress: 'bo@bayside.example',
      contactStatus: 'ARCHIVED',
      isCustomer: true,
      isSupplier: undefined,
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
  });

  it('maps a bank transaction with its contact and bank account, day from the ISO twin first', () => {
    expect(
      mapBankTransaction({
        BankTransactionID: 'b-1',
        Type: 'SPEND',
        Status: 'AUTHORISED',
        Contact: { ContactID: 'c-1', Name: 'Rent Co', Addresses: [{ City: 'not returned' }] },
        BankAccount: { AccountID: 'a-1', Code: '090', Name: 'Business Bank Account', Type: 'BANK' },
        Reference: 'October rent',
        Date: '/Date(1539993600000+0000)/',
        DateString: '2018-10-21T00:00:00',
        IsReconciled: true,
        CurrencyCode: 'NZD',
        CurrencyRate: 1,
        SubTotal: 100,
        TotalTax: '15',
        Total: 115,
        UpdatedDateUTC: '/Date(1455827393000+0000)/',
        LineItems: [{ Description: 'not returned' }],
      }),
    ).toEqual({
      bankTransactionId: 'b-1',
      type: 'SPEND',
      status: 'AUTHORISED',
      contact: { contactId: 'c-1', name: 'Rent Co' },
      bankAccount: { accountId: 'a-1', code: '090', name: 'Business Bank Account' },
      reference: 'October rent',
      date: '2018-10-21',
      isReconciled: true,
      currencyCode: 'NZD',
      subTotal: 100,
      totalTax: undefined,
      total: 115,
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
    const bare = mapBankTransaction({
      Date: '/Date(1539993600000+0000)/',
      BankAccount: 'x',
      IsReconciled: 1,
    });
    expect(bare).toMatchObject({ date: '2018-10-20', bankAccount: undefined, contact: undefined });
    expect(bare.isReconciled).toBeUndefined();
  });

  it('maps an account', () => {
    expect(
      mapAccount({
        AccountID: 'a-1',
        Code: '090',
        Name: 'Business Bank Account',
        Type: 'BANK',
        Class: 'ASSET',
        Status: 'ACTIVE',
        Description: 'The main account',
        TaxType: 'NONE',
        BankAccountNumber: '0123456789',
        BankAccountType: 'BANK',
        CurrencyCode: 'NZD',
        EnablePaymentsToAccount: false,
        ShowInExpenseClaims: false,
        ReportingCode: 'ASS',
        HasAttachments: false,
        UpdatedDateUTC: '/Date(1455827393000+0000)/',
      }),
    ).toEqual({
      accountId: 'a-1',
      code: '090',
      name: 'Business Bank Account',
      type: 'BANK',
      class: 'ASSET',
      status: 'ACTIVE',
      description: 'The main account',
      taxType: 'NONE',
      bankAccountNumber: '0123456789',
      bankAccountType: 'BANK',
      currencyCode: 'NZD',
      enablePaymentsToAccount: false,
      systemAccount: undefined,
      reportingCode: 'ASS',
      updatedDateUtc: '2016-02-18T20:29:53.000Z',
    });
    expect(mapAccount({ Code: 200, Class: ['ASSET'] })).toMatchObject({ code: undefined, class: undefined });
  });

  it('maps the organisation, its lock dates as days, and leaves out its API key', () => {
    const org = mapOrganisation({
      APIKey: 'EB4ZC6QE2SXJRGMMZMN2OX3JJ9QCEB',
      OrganisationID: 'o-1',
      Name: 'Demo Company (AU)',
      LegalName: 'Demo Company (AU) Pty Ltd',
      ShortCode: '!9xKfQ',
      OrganisationType: 'TRUST',
      OrganisationStatus: 'ACTIVE',
      IsDemoCompany: true,
      CountryCode: 'AU',
      BaseCurrency: 'AUD',
      Timezone: 'AUSEASTERNSTANDARDTIME',
      PaysTax: false,
      SalesTaxBasis: 'ACCRUALS',
      SalesTaxPeriod: 'QUARTERLY1',
      FinancialYearEndDay: 30,
      FinancialYearEndMonth: 6,
      PeriodLockDate: '/Date(1538265600000+0000)/',
      EndOfYearLockDate: '/Date(1530316800000+0000)/',
      CreatedDateUTC: '/Date(1455827393000)/',
    });
    expect(org).toEqual({
      organisationId: 'o-1',
      name: 'Demo Company (AU)',
      legalName: 'Demo Company (AU) Pty Ltd',
      shortCode: '!9xKfQ',
      organisationType: 'TRUST',
      organisationStatus: 'ACTIVE',
      isDemoCompany: true,
      countryCode: 'AU',
      baseCurrency: 'AUD',
      timezone: 'AUSEASTERNSTANDARDTIME',
      paysTax: false,
      salesTaxBasis: 'ACCRUALS',
      salesTaxPeriod: 'QUARTERLY1',
      financialYearEndDay: 30,
      financialYearEndMonth: 6,
      periodLockDate: '2018-09-30',
      endOfYearLockDate: '2018-06-30',
      createdDateUtc: '2016-02-18T20:29:53.000Z',
    });
    expect(JSON.stringify(org)).not.toContain('EB4ZC6QE2SXJRGMMZMN2OX3JJ9QCEB');
  });

  it('reads the collection and pagination of an envelope; no collection is a bad response', () => {
    const body = {
      Status: 'OK',
      pagination: { page: 2, pageSize: 10, pageCount: 3, itemCount: 25 },
      Invoices: [{}],
    };
    expect(collection(body, 'Invoices')).toEqual([{}]);
    expect(pagination(body, { page: 9, pageSize: 9 })).toEqual({
      page: 2,
      pageSize: 10,
      pageCount: 3,
      itemCount: 25,
    });
    expect(pagination({ Invoices: [] }, { page: 1, pageSize: 100 })).toEqual({
      page: 1,
      pageSize: 100,
      pageCount: null,
      itemCount: null,
    });
    expect(only({ Reports: [{ ReportID: 'A' }, { ReportID: 'B' }] }, 'Reports')).toEqual({ ReportID: 'A' });
    expect(() => only({ Reports: [] }, 'Reports')).toThrow('an empty Reports list in the answer');
    expect(() => only({ Reports: 'x' }, 'Reports')).toThrow('no Reports list in the answer');
    for (const bad of [
      null,
      'x',
      [],
      { Invoices: 'x' },
      { Invoices: [1] },
      { Invoices: [{}, 1] },
      { Invoices: [{}, null] },
      { Invoices: [[]] },
      { Contacts: [] },
    ]) {
      const e = (() => {
        try {
          collection(bad, 'Invoices');
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(UpstreamError);
      expect((e as UpstreamError).code).toBe('upstream_bad_response');
    }
  });

  it('maps /connections, skipping entries without a tenant id', () => {
    const [t1, t2] = ['8c2f9b1e-3d4a-4f6b-9e7c-1a2b3c4d5e6f', '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b'];
    expect(
      mapConnections([
        { id: 'x', tenantId: t1, tenantName: 'Demo', tenantType: 'ORGANISATION' },
        { id: 'y' },
        { tenantId: t2 },
      ]),
    ).toEqual([
      { tenantId: t1, tenantName: 'Demo', tenantType: 'ORGANISATION' },
      { tenantId: t2, tenantName: null, tenantType: null },
    ]);
    expect(() => mapConnections({ tenantId: t1 })).toThrow(UpstreamError);
  });

  it('skips a /connections entry whose tenant id is not a GUID: it would become a header, a store key and a message', () => {
    const t1 = '8c2f9b1e-3d4a-4f6b-9e7c-1a2b3c4d5e6f';
    expect(
      mapConnections([
        { tenantId: `${t1}\r\nx-injected: 1`, tenantName: 'Line break' },
        { tenantId: 'x'.repeat(5000), tenantName: 'Long' },
        { tenantId: 't-1', tenantName: 'Not a GUID' },
        { tenantId: t1, tenantName: 'Demo' },
      ]),
    ).toEqual([{ tenantId: t1, tenantName: 'Demo', tenantType: null }]);
  });

  it("gives a tenant id in lower case, the one form every other tenant id here is in, whatever Xero's case", () => {
    const id = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
    expect(mapConnections([{ tenantId: id.toUpperCase(), tenantName: 'Demo' }])[0].tenantId).toBe(id);
  });

  it('flattens a report: header columns, section titles on their rows, totals marked', () => {
    const flat = flattenReport({
      ReportName: 'Profit and Loss',
      ReportTitles: ['Profit & Loss', 'Demo', 7],
      ReportDate: '20 October 2018',
      UpdatedDateUTC: '/Date(1455827393000)/',
      Rows: [
        { RowType: 'Header', Cells: [{ Value: '' }, { Value: 'Oct 2018' }, { Value: 'Sep 2018' }] },
        {
          RowType: 'Section',
          Title: 'Income',
          Rows: [
            { RowType: 'Row', Cells: [{ Value: 'Sales' }, { Value: '100.00' }, { Value: 90 }] },
            { RowType: 'SummaryRow', Cells: [{ Value: 'Total Income' }, { Value: '100.00' }, {}] },
          ],
        },
        {
          RowType: 'Section',
          Title: '',
          Rows: [{ RowType: 'Row', Cells: [{ Value: 'Net Profit' }, { Value: '40.00' }] }],
        },
        { RowType: 'Row', Cells: [{ Value: 'Loose' }] },
        { RowType: 'Row', Cells: [] },
        { RowType: 'Row' },
        { RowType: 'Total', Cells: [{ Value: 'Not a row type Xero has' }, { Value: '1.00' }] },
        { Cells: [{ Value: 'No row type' }] },
        'junk',
      ],
    });
    expect(flat.reportName).toBe('Profit and Loss');
    expect(flat.reportTitles).toEqual(['Profit & Loss', 'Demo']);
    expect(flat.reportDate).toBe('20 October 2018');
    expect(flat.updatedDateUtc).toBe('2016-02-18T20:29:53.000Z');
    expect(flat.columns).toEqual(['Oct 2018', 'Sep 2018']);
    expect(flat.rows).toEqual([
      { section: 'Income', title: 'Sales', values: ['100.00', '90'], summary: false },
      { section: 'Income', title: 'Total Income', values: ['100.00', ''], summary: true },
      { section: '', title: 'Net Profit', values: ['40.00'], summary: false },
      { section: '', title: 'Loose', values: [], summary: false },
      { section: '', title: '', values: [], summary: false },
      { section: '', title: '', values: [], summary: false },
    ]);
  });

  it('reads a ValidationException from its known fields only', () => {
    expect(
      validationDetail({
        ErrorNumber: 10,
        Type: 'ValidationException',
        Message: 'A validation exception occurred',
        Elements: [
          {
            ValidationErrors: [
              { Message: 'Invalid status' },
              { Message: 'Invalid status' },
              { Message: 'Bad date' },
            ],
          },
        ],
      }),
    ).toBe('Invalid status; Bad date');
    expect(validationDetail({ Type: 'ValidationException', Message: 'Only the message', Elements: [] })).toBe(
      'Only the message',
    );
    // An error without a message adds nothing; the general Message is for when none has one.
    expect(
      validationDetail({
        Type: 'ValidationException',
        Message: 'A validation exception occurred',
        Elements: [{ ValidationErrors: [{}, { Message: 'Bad date' }, { Message: 7 }] }, 'x', {}],
      }),
    ).toBe('Bad date');
    expect(
      validationDetail({ Type: 'PostDataInvalidException', Message: 'secret-bearing text' }),
    ).toBeUndefined();
    expect(validationDetail('text')).toBeUndefined();
  });
});
