import { MAX_JSON_DEPTH, MAX_JSON_VALUES } from '../common/body-parser';
import { REDACTED } from '../observability/redact';
import { argsDigest, canonicalRow, sha256Hex } from './audit-record';
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

  it("stores arguments holding a member named __proto__ whole, and the digest is that copy's", () => {
    const args = JSON.parse('{"q":1,"__proto__":{"x":"y"}}') as Record<string, unknown>;
    const row = toAuditRow({ kind: 'tool_call', action: 't', outcome: 'invalid_arguments', args }, true);
    expect(row.args).toBe('{"__proto__":{"x":"y"},"q":1}');
    expect(row.argsDigest).toBe(sha256Hex(String(row.args)));
  });

  it('scrubs a token pasted into the action (an unrouted path, an unknown tool name), keeping the rest', () => {
    const path = toAuditRow(
      { kind: 'admin', action: `DELETE /admin/api-keys/${JWT}`, outcome: 'client_error' },
      false,
    );
    expect(path.action).toMatch(/^DELETE \/admin\/api-keys\/\[REDACTED/);
    const tool = toAuditRow(
      { kind: 'tool_call', action: `sk-ant-api03-${'x'.repeat(40)}`, outcome: 'unknown_tool' },
      false,
    );
    expect(tool.action).toBe(REDACTED);
    expect(
      toAuditRow({ kind: 'tool_call', action: 'xero_list_invoices', outcome: 'success' }, false).action,
    ).toBe('xero_list_invoices');
  });

  it('stores only well-formed text: lone surrogates replaced, a pair never split by the clip (PostgreSQL refused the batch)', () => {
    const row = toAuditRow(
      {
        kind: 'tool_call',
        action: '\ud800',
        outcome: 'unknown_tool',
        userAgent: `${'u'.repeat(511)}\u{1F600}`,
        requestId: 'r\udc00',
        args: { ['k\ud800']: 'v\udfff' },
      },
      true,
    );
    expect(row.action).toBe('\ufffd');
    expect(row.userAgent).toBe('u'.repeat(511));
    expect(row.requestId).toBe('r\ufffd');
    expect(row.args).toBe('{"k\ufffd":"v\ufffd"}');
    expect(canonicalRow(row)).not.toMatch(/\\ud[89a-f]/i);
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

  it('digests the arguments with their secrets redacted: a guessed secret cannot be tested against the digest', () => {
    const body = { shop: 'acme.myshopify.com', accessToken: 'hunter2-weak', apiVersion: '2025-08' };
    const args = { params: { service: 'shopify' }, query: {}, body };
    const row = toAuditRow(
      { kind: 'admin', action: 'PUT /credentials/:service', outcome: 'client_error', args },
      true,
    );
    expect(row.argsDigest).not.toBe(argsDigest(args));
    expect(row.argsDigest).toBe(argsDigest({ ...args, body: { ...body, accessToken: REDACTED } }));
    // It is the digest of the stored copy, so that copy can be checked against it.
    expect(row.argsDigest).toBe(sha256Hex(row.args!));
    // Arguments without secrets digest as they are, however deep or long (within a request's bounds).
    let deep: unknown = 'leaf';
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    const long = Array.from({ length: MAX_JSON_VALUES - 1 }, (_, i) => i);
    for (const plain of [{ city: 'London', n: 1 }, { body: deep }, { body: long }]) {
      expect(
        toAuditRow({ kind: 'tool_call', action: 't', outcome: 'success', args: plain }, false).argsDigest,
      ).toBe(argsDigest(plain));
    }
  });

  it("stores the server's own facts about an event (redacted) even when arguments are not stored; a caller's arguments only when asked", () => {
    const facts = { method: 'GET', path: '/admin/api-keys', note: 'token=abc123secret' };
    const event = toAuditRow(
      {
        kind: 'security',
        action: 'auth.invalid_token',
        outcome: 'denied',
        args: facts,
        argsAreServerFacts: true,
      },
      false,
    );
    expect(JSON.parse(event.args!)).toEqual({
      method: 'GET',
      path: '/admin/api-keys',
      note: expect.not.stringContaining('abc123secret'),
    });
    expect(
      toAuditRow({ kind: 'tool_call', action: 't', outcome: 'success', args: facts }, false).args,
    ).toBeNull();
  });
});
