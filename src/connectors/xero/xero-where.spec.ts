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

  it('takes as a code only capitals, digits, _ and -: no quote, space or parenthesis, even in capitals', () => {
    expect(whereAnyOf('Type', ['RECEIVE-PREPAYMENT', 'A_1'])).toBe(
      '(Type=="RECEIVE-PREPAYMENT" OR Type=="A_1")',
    );
    for (const bad of ['BANK" OR TYPE!="X', 'BANK")', 'RECEIVE TRANSFER', 'BANK\n'])
      expect(() => whereAnyOf('Type', [bad])).toThrow('not a code');
  });

  it('checks the field of every kind of clause, not only of a list of codes', () => {
    const field = 'Date==Date OR Date';
    expect(() => whereGuid(field, ID)).toThrow('not a field');
    expect(() => whereDay(field, '>=', '2018-10-01')).toThrow('not a field');
    expect(() => whereIs(field, true)).toThrow('not a field');
  });

  it('takes a day only as the whole of YYYY-MM-DD, two digits a month', () => {
    for (const bad of [
      '2018-1-01',
      ' 2018-10-01',
      '2018-10-01 ',
      '2018-10-01") OR Date!=DateTime(1, 1, 1',
      'x2018-10-01',
    ])
      expect(() => whereDay('Date', '<=', bad)).toThrow('not a day');
  });

  it('refuses an empty value rather than leaving its clause out (which would widen what is read)', () => {
    expect(() => whereGuid('Contact.ContactID', '')).toThrow('not a GUID');
    expect(() => whereDay('Date', '>=', '')).toThrow('not a day');
  });
});
