import { toAuditRow } from './audit-row';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJqdGkiOiJrZXlfMSIsIm9yZyI6ImFjbWUifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';

describe('toAuditRow', () => {
  it("scrubs a token pasted into the caller's user agent or request id, keeping the rest", () => {
    const row = toAuditRow(
      {
        kind: 'admin',
        action: 'GET /credentials',
        outcome: 'success',
        userAgent: `myclient/1.0 token=${JWT} (Bearer ${JWT})`,
        requestId: `req-${JWT}`,
      },
      false,
    );
    expect(row.userAgent).toContain('myclient/1.0');
    expect(row.userAgent).toContain('[REDACTED');
    expect(JSON.stringify(row)).not.toContain(JWT.split('.')[2]);
    expect(row.requestId).toMatch(/^req-\[REDACTED/);
  });

  it('still fits a long user agent to its column, token or not', () => {
    const row = toAuditRow(
      { kind: 'admin', action: 'x', outcome: 'success', userAgent: 'a'.repeat(5_000) + JWT },
      false,
    );
    expect(row.userAgent).toHaveLength(512);
    const plain = toAuditRow(
      { kind: 'admin', action: 'x', outcome: 'success', userAgent: 'curl/8.5.0' },
      false,
    );
    expect(plain.userAgent).toBe('curl/8.5.0');
  });
});
