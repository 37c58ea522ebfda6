import { createHmac, randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/load-config';
import { AppConfig } from '../../config/config.types';
import {
  API_KEY_TOKEN_TYPE,
  ApiKeyTokenService,
  MAX_TOKEN_LENGTH,
  extractBearer,
} from './api-key-token.service';
import { TokenError, TokenErrorReason } from './token-errors';

// Tokens in this file are forged with node:crypto directly, independently of
// the service's own encoder, so a bug there cannot hide a bug here.

const OLD_SECRET = 'old-secret-old-secret-old-secret-0123456789';
const NEW_SECRET = 'new-secret-new-secret-new-secret-0123456789';
const BASE = 'https://mcp.example.test';
const ISSUER = 'sentia-test';
const MASTER = 'a'.repeat(64);

function config(jwtSecrets: string): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRETS: jwtSecrets,
    JWT_ISSUER: ISSUER,
    PUBLIC_BASE_URL: BASE,
    MASTER_ENCRYPTION_KEY: MASTER,
  });
}

const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64url');

function forge(
  header: Record<string, unknown>,
  payload: unknown,
  secret: string = NEW_SECRET,
  hash: 'sha256' | 'sha512' = 'sha256',
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const HEADER = { alg: 'HS256', typ: API_KEY_TOKEN_TYPE, kid: 'new' };
const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  jti: 'key_123',
  sub: 'user_1',
  org: 'org_1',
  permissions: ['xero:read'],
  iss: ISSUER,
  aud: BASE,
  iat: now(),
  ...over,
});
const without = (key: string): Record<string, unknown> => {
  const c = claims();
  delete c[key];
  return c;
};

/** Changes one character of segment `index` to another valid base64url character. */
function flip(token: string, index: number): string {
  const parts = token.split('.');
  const seg = parts[index];
  const at = Math.floor(seg.length / 2);
  parts[index] = seg.slice(0, at) + (seg[at] === 'A' ? 'B' : 'A') + seg.slice(at + 1);
  return parts.join('.');
}

const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Sets an unused low bit in the last character of the signature segment (32
 * bytes = 43 characters, 2 bits to spare): lenient decoders read the same bytes.
 */
function strayBits(token: string): string {
  const parts = token.split('.');
  const sig = parts[2];
  const last = B64URL_ALPHABET.indexOf(sig[sig.length - 1]);
  parts[2] = sig.slice(0, -1) + B64URL_ALPHABET[last ^ 1];
  return parts.join('.');
}

function reasonOf(fn: () => unknown): TokenErrorReason | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (e) {
    if (e instanceof TokenError) return e.reason;
    throw e;
  }
}

describe('ApiKeyTokenService', () => {
  // New key signs; old key is kept for verification only (rotation).
  const service = new ApiKeyTokenService(config(`new:${NEW_SECRET},old:${OLD_SECRET}`));
  const good = (): string => forge(HEADER, claims());

  it('verifies a request once: the same request and header reuse the result, a failure is never kept', () => {
    const spy = jest.spyOn(service, 'verify');
    try {
      const req = { headers: { authorization: `Bearer ${good()}` } };
      const first = service.verifyRequest(req);
      expect(service.verifyRequest(req)).toBe(first);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(first).toEqual(service.verify(good()));
      // Another header on the same request object is verified afresh (and refused).
      req.headers.authorization = 'Bearer not.a.token';
      expect(() => service.verifyRequest(req)).toThrow(TokenError);
      expect(() => service.verifyRequest(req)).toThrow(TokenError);
      const missing = { headers: {} };
      expect(() => service.verifyRequest(missing)).toThrow(expect.objectContaining({ reason: 'missing' }));
      // Another request is its own.
      const other = { headers: { authorization: `Bearer ${good()}` } };
      expect(service.verifyRequest(other)).not.toBe(first);
    } finally {
      spy.mockRestore();
    }
  });

  it('round-trips: what it signs it verifies, with every claim', () => {
    const expiresAt = new Date(Date.now() + 3600_000);
    const token = service.sign({
      keyId: 'key_abc',
      userId: 'user_9',
      organizationId: 'org_7',
      permissions: ['audit:read', 'keys:admin'],
      expiresAt,
    });
    const [h, p] = token
      .split('.')
      .slice(0, 2)
      .map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()));
    expect(h).toEqual({ alg: 'HS256', typ: 'sentia-api-key+jwt', kid: 'new' });
    expect(p).toEqual({
      jti: 'key_abc',
      sub: 'user_9',
      org: 'org_7',
      permissions: ['audit:read', 'keys:admin'],
      iss: ISSUER,
      aud: BASE,
      iat: expect.any(Number),
      exp: Math.floor(expiresAt.getTime() / 1000),
    });
    const v = service.verify(token);
    expect(v).toEqual({
      keyId: 'key_abc',
      userId: 'user_9',
      organizationId: 'org_7',
      permissions: ['audit:read', 'keys:admin'],
      issuedAt: new Date(p.iat * 1000),
      expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000),
    });
  });

  it('omits exp and expiresAt for a key without expiry, and writes nbf when asked', () => {
    const token = service.sign({ keyId: 'k', userId: 'u', organizationId: 'o', permissions: [] });
    expect(service.verify(token)).not.toHaveProperty('expiresAt');
    const nbfToken = service.sign({
      keyId: 'k',
      userId: 'u',
      organizationId: 'o',
      permissions: [],
      notBefore: new Date(Date.now() - 1000),
    });
    const payload = JSON.parse(Buffer.from(nbfToken.split('.')[1], 'base64url').toString());
    expect(payload.nbf).toBe(Math.floor((Date.now() - 1000) / 1000));
    expect(service.verify(nbfToken).keyId).toBe('k');
  });

  it('accepts a token that my independent forger builds correctly (the baseline for the table)', () => {
    expect(service.verify(good()).keyId).toBe('key_123');
  });

  it('rotation: a token signed under the old config verifies under the new one', () => {
    const before = new ApiKeyTokenService(config(`old:${OLD_SECRET}`));
    const token = before.sign({ keyId: 'k_old', userId: 'u', organizationId: 'o', permissions: ['admin'] });
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid).toBe('old');
    expect(service.verify(token).keyId).toBe('k_old');
    // ...and once the old key is dropped from the config, it no longer does.
    const after = new ApiKeyTokenService(config(`new:${NEW_SECRET}`));
    expect(reasonOf(() => after.verify(token))).toBe('invalid');
    // New tokens are signed with the first key.
    expect(
      JSON.parse(
        Buffer.from(
          service.sign({ keyId: 'k', userId: 'u', organizationId: 'o', permissions: [] }).split('.')[0],
          'base64url',
        ).toString(),
      ).kid,
    ).toBe('new');
  });

  it('tolerates clock skew up to 30 s on nbf and iat, not beyond; a key expires exactly at exp', () => {
    // Its streams end then, and its listing says expired: no 30 s in which it is refused there and
    // admitted here (a client re-initialised in a loop).
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ exp: now() + 5 }))))).toBe('accepted');
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ exp: now() - 1 }))))).toBe('expired');
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ iat: now() + 10 }))))).toBe('accepted');
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ iat: now() + 45 }))))).toBe('invalid');
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ nbf: now() + 10 }))))).toBe('accepted');
    expect(reasonOf(() => service.verify(forge(HEADER, claims({ nbf: now() + 45 }))))).toBe('invalid');
  });

  it('on the exact second: expired at exp itself (RFC 7519: on or after), accepted at 30 s of skew and refused at 31', () => {
    const at = now() + 100; // a whole second, the clock set on it
    const clock = jest.spyOn(Date, 'now').mockReturnValue(at * 1000);
    try {
      const verdicts = [
        { exp: at },
        { exp: at + 1 },
        { iat: at + 30 },
        { iat: at + 31 },
        { nbf: at + 30 },
        { nbf: at + 31 },
      ].map((over) => reasonOf(() => service.verify(forge(HEADER, claims({ iat: at, ...over })))));
      expect(verdicts).toEqual(['expired', 'accepted', 'accepted', 'invalid', 'accepted', 'invalid']);
    } finally {
      clock.mockRestore();
    }
  });

  type Row = [
    name: string,
    input: () => string | undefined,
    reason: TokenErrorReason | 'accepted',
    viaHeader?: boolean,
  ];
  const rows: Row[] = [
    ['no Authorization header', () => undefined, 'missing', true],
    ['empty Authorization header', () => '', 'missing', true],
    ['"Bearer " with nothing', () => 'Bearer ', 'malformed', true],
    ['"Bearer" alone', () => 'Bearer', 'malformed', true],
    ['Basic scheme', () => `Basic ${Buffer.from('a:b').toString('base64')}`, 'malformed', true],
    ['token without a scheme', () => good(), 'malformed', true],
    ['two credentials', () => `Bearer ${good()} ${good()}`, 'malformed', true],
    ['empty token', () => '', 'missing'],
    [
      'alg none, unsigned',
      () => `${b64({ alg: 'none', typ: API_KEY_TOKEN_TYPE, kid: 'new' })}.${b64(claims())}.`,
      'invalid',
    ],
    ['alg none with a valid HS256 signature', () => forge({ ...HEADER, alg: 'none' }, claims()), 'invalid'],
    [
      'HS256 header with the signature stripped (empty third segment)',
      () => `${good().split('.').slice(0, 2).join('.')}.`,
      'invalid',
    ],
    [
      'HS512 signed with the right secret',
      () => forge({ ...HEADER, alg: 'HS512' }, claims(), NEW_SECRET, 'sha512'),
      'invalid',
    ],
    [
      'RS256 header, HMAC over it with the secret (alg confusion)',
      () => forge({ ...HEADER, alg: 'RS256' }, claims()),
      'invalid',
    ],
    [
      'RS256 header, RSA-sized signature',
      () => `${b64({ ...HEADER, alg: 'RS256' })}.${b64(claims())}.${randomBytes(256).toString('base64url')}`,
      'invalid',
    ],
    ['wrong secret', () => forge(HEADER, claims(), 'x'.repeat(40)), 'invalid'],
    ['flipped payload byte', () => flip(good(), 1), 'invalid'],
    ['flipped header byte', () => flip(good(), 0), 'invalid'],
    ['flipped signature byte', () => flip(good(), 2), 'invalid'],
    ['truncated signature (30 bytes, canonical)', () => good().slice(0, -3), 'invalid'],
    ['expired', () => forge(HEADER, claims({ exp: now() - 3600 })), 'expired'],
    [
      'expired and from a foreign issuer',
      () => forge(HEADER, claims({ exp: now() - 3600, iss: 'other' })),
      'invalid',
    ],
    [
      'expired but signed with the wrong secret',
      () => forge(HEADER, claims({ exp: now() - 3600 }), 'x'.repeat(40)),
      'invalid',
    ],
    ['nbf in the future', () => forge(HEADER, claims({ nbf: now() + 3600 })), 'invalid'],
    ['iat in the future', () => forge(HEADER, claims({ iat: now() + 3600 })), 'invalid'],
    ['wrong iss', () => forge(HEADER, claims({ iss: 'someone-else' })), 'invalid'],
    ['missing iss', () => forge(HEADER, without('iss')), 'invalid'],
    ['wrong aud', () => forge(HEADER, claims({ aud: 'https://evil.example' })), 'wrong_audience'],
    [
      'wrong aud and expired',
      () => forge(HEADER, claims({ aud: 'https://evil.example', exp: 1 })),
      'wrong_audience',
    ],
    [
      'wrong aud and a bad claim type',
      () => forge(HEADER, claims({ aud: 'https://evil.example', permissions: 'admin' })),
      'invalid',
    ],
    [
      'wrong aud signed with the wrong secret',
      () => forge(HEADER, claims({ aud: 'https://evil.example' }), 'x'.repeat(40)),
      'invalid',
    ],
    ['aud as an array', () => forge(HEADER, claims({ aud: [BASE] })), 'invalid'],
    ['missing aud', () => forge(HEADER, without('aud')), 'invalid'],
    ['wrong typ', () => forge({ ...HEADER, typ: 'JWT' }, claims()), 'invalid'],
    [
      'typ differing in case',
      () => forge({ ...HEADER, typ: API_KEY_TOKEN_TYPE.toUpperCase() }, claims()),
      'invalid',
    ],
    ['missing typ', () => forge({ alg: 'HS256', kid: 'new' }, claims()), 'invalid'],
    ['unknown kid (right secret)', () => forge({ ...HEADER, kid: 'nope' }, claims()), 'invalid'],
    ['kid of the other key', () => forge({ ...HEADER, kid: 'old' }, claims()), 'invalid'],
    ['missing kid', () => forge({ alg: 'HS256', typ: API_KEY_TOKEN_TYPE }, claims()), 'invalid'],
    ['crit header', () => forge({ ...HEADER, crit: ['b64'], b64: false }, claims()), 'invalid'],
    ['embedded jwk header', () => forge({ ...HEADER, jwk: { kty: 'oct', k: 'AAAA' } }, claims()), 'invalid'],
    [
      'signed by the verify-only (old) key',
      () => forge({ ...HEADER, kid: 'old' }, claims(), OLD_SECRET),
      'accepted',
    ],
    [
      'unknown permission string',
      () => forge(HEADER, claims({ permissions: ['xero:read', 'root'] })),
      'invalid',
    ],
    ['permission in another case', () => forge(HEADER, claims({ permissions: ['ADMIN'] })), 'invalid'],
    ['permissions as a string', () => forge(HEADER, claims({ permissions: 'admin' })), 'invalid'],
    ['permissions holding a number', () => forge(HEADER, claims({ permissions: [1] })), 'invalid'],
    ['permissions missing', () => forge(HEADER, without('permissions')), 'invalid'],
    ['sub a number', () => forge(HEADER, claims({ sub: 42 })), 'invalid'],
    ['jti empty', () => forge(HEADER, claims({ jti: '' })), 'invalid'],
    ['jti missing', () => forge(HEADER, without('jti')), 'invalid'],
    ['org an object', () => forge(HEADER, claims({ org: { id: 'o' } })), 'invalid'],
    ['org missing', () => forge(HEADER, without('org')), 'invalid'],
    ['iat missing', () => forge(HEADER, without('iat')), 'invalid'],
    ['exp a string', () => forge(HEADER, claims({ exp: String(now() + 3600) })), 'invalid'],
    ['nbf null', () => forge(HEADER, claims({ nbf: null })), 'invalid'],
    ['payload a JSON array', () => forge(HEADER, [claims()]), 'invalid'],
    ['payload not JSON', () => forge(HEADER, 'not json'), 'invalid'],
    [
      'header not JSON',
      () => {
        const i = `${b64('{alg')}.${b64(claims())}`;
        return `${i}.${createHmac('sha256', NEW_SECRET).update(i).digest('base64url')}`;
      },
      'invalid',
    ],
    ['oversized token', () => forge(HEADER, claims({ pad: 'x'.repeat(MAX_TOKEN_LENGTH) })), 'malformed'],
    ['oversized header value', () => `Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 100)}`, 'malformed', true],
    ['garbage', () => 'not-a-token', 'malformed'],
    [
      'non-base64url characters',
      () => {
        const [h, p, s] = good().split('.');
        return `${h}.${p}+/.${s}`;
      },
      'malformed',
    ],
    [
      'padded base64',
      () => {
        const [h, p, s] = good().split('.');
        return `${h}==.${p}.${s}`;
      },
      'malformed',
    ],
    ['non-canonical base64url (stray bits set in the signature)', () => strayBits(good()), 'malformed'],
    ['two segments only', () => good().split('.').slice(0, 2).join('.'), 'malformed'],
    ['four segments', () => `${good()}.${b64('x')}`, 'malformed'],
    [
      'empty header segment',
      () => {
        const [, p, s] = good().split('.');
        return `.${p}.${s}`;
      },
      'malformed',
    ],
    ['whitespace inside', () => good().replace('.', ' .'), 'malformed'],
  ];

  const cases = rows.map(([name, input, reason, viaHeader]) => ({
    name,
    input,
    reason,
    viaHeader: viaHeader ?? false,
  }));
  it.each(cases)('$name → $reason', ({ input, reason: expected, viaHeader }) => {
    const value = input();
    const run = viaHeader
      ? () => service.verify(extractBearer(value))
      : () => service.verify(value as string);
    expect(reasonOf(run)).toBe(expected);
  });

  it('the stray-bits row is a different string with the very same signature bytes', () => {
    const token = good();
    const tweaked = strayBits(token);
    expect(tweaked).not.toBe(token);
    const sig = (t: string): Buffer => Buffer.from(t.split('.')[2], 'base64url');
    expect(sig(tweaked).equals(sig(token))).toBe(true);
  });

  it('errors never carry the token, a claim value or a secret', () => {
    const secretish = 'SENSITIVE-VALUE-12345';
    const tokens = [
      forge(HEADER, claims({ exp: now() - 3600, jti: secretish })),
      forge(HEADER, claims({ iss: secretish })),
      forge({ ...HEADER, kid: secretish }, claims()),
      `${secretish}.${secretish}.${secretish}`,
      forge(HEADER, claims({ pad: secretish.repeat(1000) })),
    ];
    for (const t of tokens) {
      for (const fn of [() => service.verify(t), () => service.verify(extractBearer(`Bearer ${t}`))]) {
        let err: unknown;
        try {
          fn();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TokenError);
        const dump = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack ?? ''}`;
        expect(dump).not.toContain(secretish);
        expect(dump).not.toContain(t.slice(0, 20));
        expect(dump).not.toContain(NEW_SECRET);
      }
    }
  });

  it('every reason has a fixed message', () => {
    expect(new TokenError('expired').message).toBe('The API key has expired');
    expect(new TokenError('unknown_key').message).toBe(new TokenError('invalid').message);
    expect(new TokenError('wrong_audience').message).toBe(new TokenError('invalid').message);
  });

  it('a token of ours for another audience names that audience for the log, not in its message', () => {
    let err: unknown;
    try {
      service.verify(forge(HEADER, claims({ aud: 'http://127.0.0.1:3000' })));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenError);
    expect(err).toMatchObject({ reason: 'wrong_audience', audience: 'http://127.0.0.1:3000' });
    expect((err as Error).message).toBe('The API key is invalid');
  });
});

describe('extractBearer', () => {
  it('returns the credential; the scheme is case-insensitive', () => {
    expect(extractBearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(extractBearer('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(extractBearer('  BEARER   abc.def.ghi  ')).toBe('abc.def.ghi');
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    ['Bearer', 'malformed'],
    ['Bearer    ', 'malformed'],
    ['Token abc', 'malformed'],
    ['Bearerabc', 'malformed'],
    ['Bearer a b', 'malformed'],
    ['Bearer a,b', 'malformed'],
    ['Bearer ab\u00e9', 'malformed'],
  ])('%p → %s', (header, reason) => {
    expect(reasonOf(() => extractBearer(header))).toBe(reason);
  });

  it('says the header must be "Bearer <API key>" for another scheme or a token sent without one', () => {
    const messageOf = (header: string) => {
      try {
        extractBearer(header);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('extractBearer accepted it');
    };
    for (const header of ['abc.def.ghi', 'Basic dTpw', 'Token abc', 'Bearerabc.def.ghi'])
      expect(messageOf(header)).toBe('The Authorization header must be "Bearer <API key>"');
    // The scheme is right: the credential is what is wrong.
    for (const header of ['Bearer', 'bearer a b', 'Bearer ab\u00e9'])
      expect(messageOf(header)).toBe('The API key is malformed');
  });
});

describe('ApiKeyTokenService construction and signing inputs', () => {
  it('refuses a config without signing keys or with duplicate kids', () => {
    const base = config(`new:${NEW_SECRET}`);
    expect(() => new ApiKeyTokenService({ ...base, jwtSigningKeys: [] })).toThrow(/no JWT signing key/);
    const k = base.jwtSigningKeys[0];
    expect(() => new ApiKeyTokenService({ ...base, jwtSigningKeys: [k, k] })).toThrow(/duplicate/);
  });

  it('refuses to sign unknown permissions, empty ids or invalid dates', () => {
    const s = new ApiKeyTokenService(config(`new:${NEW_SECRET}`));
    const ok = { keyId: 'k', userId: 'u', organizationId: 'o', permissions: ['admin'] };
    expect(() => s.sign({ ...ok, permissions: ['root'] })).toThrow(/unknown permission/);
    expect(() => s.sign({ ...ok, keyId: '' })).toThrow(TypeError);
    expect(() => s.sign({ ...ok, expiresAt: new Date('nope') })).toThrow(/expiresAt/);
  });
});
