import { createHash } from 'node:crypto';
import { redact } from '../observability/redact';
import { argsDigest, canonicalJson, canonicalRedactedJson, canonicalRow, chainHash } from './audit-record';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('writes the same text for equal values whatever the key order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2] })).toBe(canonicalJson({ y: [1, 2], x: 1 }));
  });

  it('follows JSON.stringify for undefined, non-finite numbers, dates and unicode', () => {
    expect(
      canonicalJson({
        a: undefined,
        b: [undefined, NaN, Infinity],
        c: new Date('2026-01-02T03:04:05.006Z'),
        d: 'ü"\n',
      }),
    ).toBe('{"b":[null,null,null],"c":"2026-01-02T03:04:05.006Z","d":"ü\\"\\n"}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(10n)).toBe('"10"');
  });

  it('refuses a cycle but copes with shared references', () => {
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
  });
});

describe('canonicalRedactedJson', () => {
  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  it.each([
    [
      'secret-named entries',
      { apiKey: 'sk-live-123', nested: { password: 'p', clientSecret: 'c' }, name: 'ok' },
    ],
    ['secrets inside strings', { note: `Bearer ${JWT}`, url: 'https://u:pw@host/x', q: 'token=abc&x=1' }],
    ['counts under secret-sounding keys stay', { total_tokens: 120, tokenExpiresIn: 60, pin: 1234 }],
    [
      'arrays, nulls, booleans, dates',
      { list: [1, 'a', null, { secret: 's' }], ok: true, none: null, at: new Date(0) },
    ],
    ['a top-level string', `key sk-abcdefghijklmnop`],
    [
      'headers as pairs and as a flat list',
      {
        pairs: [
          ['authorization', 'opaque'],
          ['accept', '*/*'],
        ],
        raw: ['x-api-key', 'opaque', 'host', 'h'],
      },
    ],
    ['nothing to redact', { city: 'London', street: '1 Analytical Way' }],
  ])('is canonicalJson(redact(value)) in one pass: %s', (_name, value) => {
    expect(canonicalRedactedJson(value)).toBe(canonicalJson(redact(value)));
  });

  it('leaves out what canonicalJson leaves out, and keeps no secret', () => {
    const text = canonicalRedactedJson({ a: undefined, b: 'shpat_0123456789abcdef', c: [undefined] });
    expect(text).toBe('{"b":"[REDACTED]","c":[null]}');
  });
});

describe('argsDigest and chainHash', () => {
  it('digests the canonical JSON with SHA-256 (hex)', () => {
    const expected = createHash('sha256').update('{"a":1,"b":"x"}').digest('hex');
    expect(argsDigest({ b: 'x', a: 1 })).toBe(expected);
  });

  it('chains: the hash changes with the previous hash and with any field', () => {
    const row = {
      occurredAt: '2026-01-01T00:00:00.000Z',
      organizationId: 'o',
      userId: 'u',
      keyId: 'k',
      kind: 'tool_call',
      action: 't',
      outcome: 'success',
      status: null,
      errorCode: null,
      durationMs: 3,
      ip: null,
      userAgent: null,
      requestId: 'r',
      argsDigest: 'd',
      args: null,
      writerId: 'w',
      seq: 1,
    };
    const first = chainHash(null, row);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(first, row)).not.toBe(first);
    expect(chainHash(null, { ...row, outcome: 'denied' })).not.toBe(first);
    expect(chainHash(null, { ...row })).toBe(first);
  });
});

describe('canonicalRow', () => {
  it('is pinned: the hashed fields in their fixed order (stored chains depend on it)', () => {
    const row = {
      writerId: 'w1',
      seq: 7,
      occurredAt: '2026-01-02T03:04:05.006Z',
      organizationId: 'o',
      userId: null,
      keyId: 'k',
      kind: 'tool_call',
      action: 'server_info',
      outcome: 'success',
      status: 200,
      errorCode: null,
      durationMs: 3,
      ip: '127.0.0.1',
      userAgent: 'ua',
      requestId: 'r',
      argsDigest: 'd',
      args: null,
    };
    expect(canonicalRow(row)).toBe(
      '["w1",7,"2026-01-02T03:04:05.006Z","o",null,"k","tool_call","server_info","success",200,null,3,"127.0.0.1","ua","r","d",null]',
    );
  });
});
