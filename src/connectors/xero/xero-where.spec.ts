import { whereAll, whereAnyOf, whereDay, whereGuid, whereIs } from './xero-where';

const ID = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';

describe("Xero's where expressions", () => {
  it('writes each kind of clause as Xero reads it', () => {
    expect(whereAnyOf('Type', ['BANK'])).toBe('Type=="BANK"');
    expect(whereAnyOf('Type', ['BANK', 'CURRENT', 'BANK'])).toBe('(Type=="BANK" OR Type=="CURRENT")');
    expect(whereAnyOf('Type', [])).toBeUndefined();
    expect(whereAnyOf('Type', undefined)).toBeUndefined();
    expect(whereGuid('BankAccount.AccountID', ID)).toBe(`BankAccount.AccountID==Guid("${ID}")`);
    expect(whereDay('Date', '>=', '2018-10-01')).toBe('Date>=DateTime(2018, 10, 01)');
    expect(whereDay('Date', '<=', '2018-10-31')).toBe('Date<=DateTime(2018, 10, 31)');
    expect(whereIs('IsReconciled', false)).toBe('IsReconciled==false');
    expect(whereIs('IsReconciled', true)).toBe('IsReconciled==true');
    expect(whereGuid('Contact.ContactID', undefined)).toBeUndefined();
  });

  it('joins the clauses given with AND, and gives none when there are none', () => {
    expect(whereAll(undefined, 'Status=="ACTIVE"', undefined, '(Type=="A" OR Type=="B")')).toBe(
      'Status=="ACTIVE" AND (Type=="A" OR Type=="B")',
    );
    expect(whereAll(undefined, undefined)).toBeUndefined();
  });

  it('refuses any value that could break out of its clause', () => {
    expect(() => whereAnyOf('Type', ['BANK" OR Type!="X'])).toThrow('not a code');
    expect(() => whereAnyOf('Type', ['bank'])).toThrow('not a code');
    expect(() => whereAnyOf('Type==1 OR Name', ['BANK'])).toThrow('not a field');
    expect(() => whereGuid('Contact.ContactID', `${ID}") OR ("`)).toThrow('not a GUID');
    expect(() => whereDay('Date', '>=', '2018-10-1')).toThrow('not a day');
  });
});
