/** The codes of Xero's Accounting API that the tools take as filters (each an enum in their schemas). */
export const INVOICE_STATUSES = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'DELETED'] as const;
export const ACCOUNT_TYPES = [
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
  'PREPAYMENT',
  'REVENUE',
  'SALES',
  'TERMLIAB',
  'PAYG',
] as const;
export const ACCOUNT_CLASSES = ['ASSET', 'EQUITY', 'EXPENSE', 'LIABILITY', 'REVENUE'] as const;
export const BANK_TRANSACTION_TYPES = [
  'RECEIVE',
  'RECEIVE-OVERPAYMENT',
  'RECEIVE-PREPAYMENT',
  'RECEIVE-TRANSFER',
  'SPEND',
  'SPEND-OVERPAYMENT',
  'SPEND-PREPAYMENT',
  'SPEND-TRANSFER',
] as const;
export const BANK_TRANSACTION_STATUSES = ['AUTHORISED', 'DELETED', 'VOIDED'] as const;
