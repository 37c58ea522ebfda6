/**
 * A simulated tenant's ledger and its answers: GET /Organisation (one
 * organisation, unpaged), GET /Accounts (the chart of accounts, unpaged,
 * `where` and `order`), GET /BankTransactions (paged, `where` and `order`)
 * and GET /Reports/BalanceSheet (`date`, `periods`, `timeframe`), in Xero's
 * shapes and envelopes.
 */
import {
  DATE,
  DAY_MS,
  envelope,
  FIRST_INVOICE_DATE,
  FIRST_UPDATED,
  guid,
  isoNoZone,
  msDate,
  paged,
  reportPeriods,
  queryParseError,
  SimAnswer,
  validationError,
  whole,
} from './xero-simulator-shapes';
import { Fields, ordered, whereFilter } from './xero-simulator-where';

type Item = Record<string, unknown>;

export interface SimLedger {
  organisation: Item;
  accounts: Item[];
  bankTransactions: Item[];
}

/** An API key Xero still puts in /Organisation: the tools must never pass it on. */
export const SIM_ORGANISATION_API_KEY = 'SIMAPIKEYNOTFORCALLERS0000000000';

/** Code, name, type, class (and status, system account) of the simulated chart, in code order. */
const CHART: [string, string, string, string, string?, string?][] = [
  ['090', 'Business Bank Account', 'BANK', 'ASSET'],
  ['091', 'Business Savings Account', 'BANK', 'ASSET'],
  ['200', 'Sales', 'REVENUE', 'REVENUE'],
  ['260', 'Other Revenue', 'REVENUE', 'REVENUE'],
  ['310', 'Cost of Goods Sold', 'DIRECTCOSTS', 'EXPENSE'],
  ['469', 'Rent', 'OVERHEADS', 'EXPENSE'],
  ['477', 'Wages and Salaries', 'OVERHEADS', 'EXPENSE', 'ARCHIVED'],
  ['610', 'Accounts Receivable', 'CURRENT', 'ASSET', 'ACTIVE', 'DEBTORS'],
  ['800', 'Accounts Payable', 'CURRLIAB', 'LIABILITY', 'ACTIVE', 'CREDITORS'],
  ['820', 'GST', 'CURRLIAB', 'LIABILITY', 'ACTIVE', 'GST'],
  ['970', 'Owner A Funds Introduced', 'EQUITY', 'EQUITY'],
];

const BANK_TYPES = ['RECEIVE', 'SPEND', 'RECEIVE', 'SPEND-TRANSFER', 'SPEND'];

/** The organisation, chart and `count` bank transactions (every third unreconciled, the fifth voided) of a tenant. */
export function makeLedger(
  tenantName: string,
  seed: number,
  contacts: { ContactID: string; Name: string }[],
  count: number,
): SimLedger {
  const prefix = (letter: string) => `${letter}${seed.toString(16).padStart(7, '0')}`;
  const accounts: Item[] = CHART.map(([code, name, type, cls, status, system], i) => ({
    AccountID: guid(prefix('d'), i + 1),
    Code: code,
    Name: name,
    Status: status ?? 'ACTIVE',
    Type: type,
    TaxType: type === 'BANK' ? 'NONE' : 'OUTPUT2',
    Class: cls,
    EnablePaymentsToAccount: false,
    ShowInExpenseClaims: false,
    ...(type === 'BANK' && {
      BankAccountNumber: `12-3456-0${code}000-00`,
      BankAccountType: 'BANK',
      CurrencyCode: 'NZD',
    }),
    ...(system && { SystemAccount: system }),
    ReportingCode: cls.slice(0, 3),
    ReportingCodeName: cls.charAt(0) + cls.slice(1).toLowerCase(),
    HasAttachments: false,
    UpdatedDateUTC: msDate(FIRST_UPDATED + i * 3_600_000),
    AddToWatchlist: false,
  }));
  const banks = accounts.filter((a) => a.Type === 'BANK');
  const bankTransactions: Item[] = Array.from({ length: count }, (_, i) => {
    const date = FIRST_INVOICE_DATE + i * 2 * DAY_MS;
    const bank = banks[i % banks.length];
    const contact = contacts[i % contacts.length];
    const subTotal = 50 * (i + 1);
    const tax = Math.round(subTotal * 15) / 100;
    return {
      BankTransactionID: guid(prefix('e'), i + 1),
      Type: BANK_TYPES[i % BANK_TYPES.length],
      Contact: { ContactID: contact.ContactID, Name: contact.Name, Addresses: [], Phones: [] },
      BankAccount: { AccountID: bank.AccountID, Code: bank.Code, Name: bank.Name },
      LineItems: [{ Description: `Line ${i + 1}`, Quantity: 1, UnitAmount: subTotal, AccountCode: '200' }],
      IsReconciled: i % 3 !== 2,
      Date: msDate(date),
      DateString: isoNoZone(date),
      Reference: `Bank ref ${i + 1}`,
      CurrencyCode: 'NZD',
      CurrencyRate: 1,
      Status: i % 5 === 4 ? 'VOIDED' : 'AUTHORISED',
      LineAmountTypes: 'Exclusive',
      SubTotal: subTotal,
      TotalTax: tax,
      Total: subTotal + tax,
      UpdatedDateUTC: msDate(FIRST_UPDATED + i * DAY_MS),
      HasAttachments: false,
    };
  });
  const organisation: Item = {
    APIKey: SIM_ORGANISATION_API_KEY,
    OrganisationID: guid(prefix('f'), 1),
    Name: tenantName,
    LegalName: `${tenantName} Limited`,
    PaysTax: true,
    Version: 'NZ',
    OrganisationType: 'COMPANY',
    BaseCurrency: 'NZD',
    CountryCode: 'NZ',
    IsDemoCompany: false,
    OrganisationStatus: 'ACTIVE',
    RegistrationNumber: '1234567',
    TaxNumber: '101-202-303',
    FinancialYearEndDay: 31,
    FinancialYearEndMonth: 3,
    SalesTaxBasis: 'PAYMENTS',
    SalesTaxPeriod: 'TWOMONTHS',
    DefaultSalesTax: 'Tax Exclusive',
    DefaultPurchasesTax: 'Tax Exclusive',
    PeriodLockDate: msDate(Date.UTC(2018, 8, 30)),
    CreatedDateUTC: msDate(FIRST_UPDATED, false),
    OrganisationEntityType: 'COMPANY',
    Timezone: 'NEWZEALANDSTANDARDTIME',
    ShortCode: `!${prefix('s').slice(-5)}`,
    Edition: 'BUSINESS',
    Class: 'PREMIUM',
    Addresses: [
      { AddressType: 'POBOX', AddressLine1: 'PO Box 1', City: 'Wellington', Country: 'New Zealand' },
    ],
    Phones: [],
    ExternalLinks: [],
    PaymentTerms: {},
  };
  return { organisation, accounts, bankTransactions };
}

export function organisationAnswer(t: SimLedger): SimAnswer {
  return whole('Organisations', [t.organisation]);
}

const ACCOUNT_FIELDS: Fields = {
  AccountID: 'guid',
  Code: 'string',
  Name: 'string',
  Status: 'string',
  Type: 'string',
  Class: 'string',
  TaxType: 'string',
  SystemAccount: 'string',
  UpdatedDateUTC: 'date',
};

export function accountsAnswer(t: SimLedger, q: URLSearchParams): SimAnswer {
  const test = whereFilter(q.get('where'), ACCOUNT_FIELDS, 'Account');
  if ('status' in test) return test;
  const items = ordered(t.accounts.filter(test), q.get('order'), ACCOUNT_FIELDS);
  if (!items) return queryParseError(`Invalid order '${q.get('order')}'`);
  return whole('Accounts', items);
}

const BANK_TRANSACTION_FIELDS: Fields = {
  BankTransactionID: 'guid',
  Type: 'string',
  Status: 'string',
  Date: 'date',
  Reference: 'string',
  IsReconciled: 'bool',
  Total: 'number',
  'Contact.ContactID': 'guid',
  'Contact.Name': 'string',
  'BankAccount.AccountID': 'guid',
  'BankAccount.Code': 'string',
  UpdatedDateUTC: 'date',
};

export function bankTransactionsAnswer(t: SimLedger, q: URLSearchParams): SimAnswer {
  const test = whereFilter(q.get('where'), BANK_TRANSACTION_FIELDS, 'BankTransaction');
  if ('status' in test) return test;
  const items = ordered(t.bankTransactions.filter(test), q.get('order'), BANK_TRANSACTION_FIELDS);
  if (!items) return queryParseError(`Invalid order '${q.get('order')}'`);
  return paged('BankTransactions', items, q);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const STEP = { MONTH: 1, QUARTER: 3, YEAR: 12 } as Record<string, number>;

/** The day `months` months before y-m-d (the same day, or the month's last when it has fewer). */
function monthsBefore(y: number, m: number, d: number, months: number): Date {
  const first = new Date(Date.UTC(y, m - 1 - months, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(d, last)));
}

const title = (d: Date) => `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;

/** Xero's Balance Sheet: as at `date` (default the end of this month), with `periods` earlier ones. */
export function balanceSheetAnswer(t: SimLedger & { tenantName: string }, q: URLSearchParams): SimAnswer {
  const now = new Date();
  const endOfMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0));
  const date = q.get('date') ?? endOfMonth.toISOString().slice(0, 10);
  if (!DATE.test(date)) return validationError('date must be YYYY-MM-DD');
  const compared = reportPeriods(q);
  if ('status' in compared) return compared;
  const [y, m, d] = date.split('-').map(Number);
  const dates = Array.from({ length: compared.periods + 1 }, (_, i) =>
    monthsBefore(y, m, d, i * STEP[compared.timeframe]),
  );
  const row = (name: string, amount: (i: number) => number, type = 'Row') => {
    // An account's line names it in its cells' Attributes, as Xero's do.
    const id = t.accounts.find((a) => a.Name === name)?.AccountID;
    const attributes = id ? { Attributes: [{ Value: id, Id: 'account' }] } : {};
    return {
      RowType: type,
      Cells: [{ Value: name }, ...dates.map((_, i) => ({ Value: amount(i).toFixed(2), ...attributes }))],
    };
  };
  const section = (Title: string, Rows: unknown[]) => ({ RowType: 'Section', Title, Rows });
  const bank = (i: number) => 5000 - 100 * i;
  const savings = () => 2000;
  const receivable = (i: number) => 1500 - 50 * i;
  const payable = () => 800;
  const gst = (i: number) => 200 + 10 * i;
  const assets = (i: number) => bank(i) + savings() + receivable(i);
  const liabilities = (i: number) => payable() + gst(i);
  const net = (i: number) => assets(i) - liabilities(i);
  return {
    status: 200,
    body: envelope('Reports', [
      {
        ReportID: 'BalanceSheet',
        ReportName: 'Balance Sheet',
        ReportType: 'BalanceSheet',
        ReportTitles: ['Balance Sheet', t.tenantName, `As at ${title(dates[0])}`],
        ReportDate: title(now),
        UpdatedDateUTC: msDate(Date.now(), false),
        Fields: [],
        Rows: [
          { RowType: 'Header', Cells: [{ Value: '' }, ...dates.map((x) => ({ Value: title(x) }))] },
          section('Assets', []),
          section('Bank', [
            row('Business Bank Account', bank),
            row('Business Savings Account', savings),
            row('Total Bank', (i) => bank(i) + savings(), 'SummaryRow'),
          ]),
          section('Current Assets', [
            row('Accounts Receivable', receivable),
            row('Total Current Assets', receivable, 'SummaryRow'),
          ]),
          section('', [row('Total Assets', assets)]),
          section('Liabilities', []),
          section('Current Liabilities', [
            row('Accounts Payable', payable),
            row('GST', gst),
            row('Total Current Liabilities', liabilities, 'SummaryRow'),
          ]),
          section('', [row('Total Liabilities', liabilities)]),
          section('', [row('Net Assets', net)]),
          section('Equity', [
            row('Current Year Earnings', (i) => net(i) - 3000),
            row('Retained Earnings', () => 3000),
            row('Total Equity', net, 'SummaryRow'),
          ]),
        ],
      },
    ]),
  };
}
