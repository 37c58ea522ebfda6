import { auditPartitionName, monthStartUtc, quoteIdent } from './audit-partitions';

describe('audit partition naming', () => {
  it('names partitions by UTC year and zero-padded month', () => {
    expect(auditPartitionName(new Date('2026-03-31T23:59:59.999Z'))).toBe('audit_logs_y2026m03');
    expect(auditPartitionName(new Date('2026-11-01T00:00:00Z'))).toBe('audit_logs_y2026m11');
  });

  it('steps months across a year end in UTC', () => {
    const d = new Date('2026-12-31T23:30:00Z');
    expect(monthStartUtc(d).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(monthStartUtc(d, 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(monthStartUtc(d, 14).toISOString()).toBe('2028-02-01T00:00:00.000Z');
    expect(auditPartitionName(monthStartUtc(d, 2))).toBe('audit_logs_y2027m02');
  });

  it('quotes identifiers, doubling embedded quotes', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });
});
