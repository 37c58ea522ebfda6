import {
  ACCOUNT_CLASSES,
  ACCOUNT_TYPES,
  BANK_TRANSACTION_STATUSES,
  BANK_TRANSACTION_TYPES,
  INVOICE_STATUSES,
} from './xero-codes';
import { whereAnyOf } from './xero-where';

describe("Xero's codes the tools take as filters", () => {
  it("are Xero's documented codes (Accounting API, Types), each once", () => {
    // Written out from Xero's documentation (and xero-node's enums), not from the module under test.
    const documented: [readonly string[], string[]][] = [
      [INVOICE_STATUSES, ['AUTHORISED', 'DELETED', 'DRAFT', 'PAID', 'SUBMITTED', 'VOIDED']],
      [
        ACCOUNT_TYPES,
        [
          'BANK',
          'CURRENT',
          'CURRLIAB',
          'DEPRECIATN',
          'DIRECTCOSTS',
          'EQUITY',
          'EXPENSE',
          'FIXED',
          'INVENTORY',
          'LIABILITY',
          'NONCURRENT',
          'OTHERINCOME',
          'OVERHEADS',
          'PAYG',
          'PREPAYMENT',
          'REVENUE',
          'SALES',
          'TERMLIAB',
        ],
      ],
      [ACCOUNT_CLASSES, ['ASSET', 'EQUITY', 'EXPENSE', 'LIABILITY', 'REVENUE']],
      [
        BANK_TRANSACTION_TYPES,
        [
          'RECEIVE',
          'RECEIVE-OVERPAYMENT',
          'RECEIVE-PREPAYMENT',
          'RECEIVE-TRANSFER',
          'SPEND',
          'SPEND-OVERPAYMENT',
          'SPEND-PREPAYMENT',
          'SPEND-TRANSFER',
        ],
      ],
      [BANK_TRANSACTION_STATUSES, ['AUTHORISED', 'DELETED', 'VOIDED']],
    ];
    for (const [codes, expected] of documented) {
      expect([...codes].sort()).toEqual(expected);
      expect(new Set(codes).size).toBe(codes.length);
    }
  });

  it('are each a code the where builder takes, so no filter a schema accepts makes a tool throw', () => {
    for (const code of [
      ...INVOICE_STATUSES,
      ...ACCOUNT_TYPES,
      ...ACCOUNT_CLASSES,
      ...BANK_TRANSACTION_TYPES,
      ...BANK_TRANSACTION_STATUSES,
    ])
      expect(whereAnyOf('Type', [code])).toBe(`Type=="${code}"`);
  });
});
