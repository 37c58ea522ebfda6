import { runInNewContext } from 'node:vm';
import { CIRCULAR, isSensitiveKey, REDACTED, REDACTED_JWT, redact, redactString, TRUNCATED } from './redact';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redact', () => {
  it('replaces the values of secret-named keys, case-insensitively and as substrings', () => {
    const input = {
      Authorization: 'Bearer abc',
      cookie: 'sid=1',
      'Set-Cookie': ['a=1', 'b=2'],
      token: 't',
      access_token: 'a',
      refresh_token: 'r',
      id_token: 'i',
      'api key': 'k1',
      apiKey: 'k2',
      api_key: 'k3',
      'X-API-Key': 'k4',
      secret: 's',
      client_secret: 'cs',
      password: 'p',
      passwd: 'p2',
      'private key': 'pk',
      masterKey: Buffer.from('mk'),
      dataKey: 'dk',
      sessionKey: 'sk',
      signingKey: 'sgk',
      encryptionKey: 'ek',
      passphrase: 'pp',
      jwtSecret: 'js',
      'X-Shopify-Access-Token': 'shpat_123',
      auth: { user: 'u', pass: 'p' },
      pin: 1234,
    };
    const out = redact(input) as Record<string, unknown>;
    for (const key of Object.keys(input)) expect(out[key]).toBe(REDACTED);
  });

  it('keeps keys that only name or count a secret, and innocent keys', () => {
    const out = redact({
      apiKeyId: 'key_1',
      tokenType: 'Bearer',
      total_tokens: 120,
      max_tokens: 4096,
      tokenExpiresIn: 3600,
      hasPassword: true,
      secretName: 'xero',
      author: 'ann',
      path: '/admin/keys',
      passwordHash: undefined,
      password: null,
    });
    expect(out).toEqual({
      apiKeyId: 'key_1',
      tokenType: 'Bearer',
      total_tokens: 120,
      max_tokens: 4096,
      tokenExpiresIn: 3600,
      hasPassword: true,
      secretName: 'xero',
      author: 'ann',
      path: '/admin/keys',
      passwordHash: undefined,
      password: null,
    });
  });

  it('still redacts numbers that are not counts', () => {
    expect(redact({ password: 123456, otp: 42 })).toEqual({ password: REDACTED, otp: REDACTED });
  });

  it('walks nested objects and arrays', () => {
    const out = redact({
      request: { headers: { authorization: 'Basic dTpw', 'content-type': 'json' } },
      accounts: [{ name: 'a', password: 'x' }, [{ refreshToken: 'y' }]],
    });
    expect(out).toEqual({
      request: { headers: { authorization: REDACTED, 'content-type': 'json' } },
      accounts: [{ name: 'a', password: REDACTED }, [{ refreshToken: REDACTED }]],
    });
  });

  it('serialises Errors with name, message, stack, own fields and cause, redacted', () => {
    const cause = new Error(`upstream said ${JWT}`);
    const error = Object.assign(new TypeError('call failed with Bearer sk-live-123', { cause }), {
      code: 'E_UPSTREAM',
      config: { headers: { Authorization: 'Bearer sk-live-123' } },
    });
    const out = redact({ error });
    expect(out).toEqual({
      error: {
        name: 'TypeError',
        message: `call failed with Bearer ${REDACTED}`,
        stack: expect.stringContaining(`TypeError: call failed with Bearer ${REDACTED}\n    at `),
        code: 'E_UPSTREAM',
        config: { headers: { Authorization: REDACTED } },
        cause: expect.objectContaining({ name: 'Error', message: `upstream said ${REDACTED_JWT}` }),
      },
    });
    expect(JSON.stringify(out)).not.toContain('sk-live-123');
  });

  it("drops a failed query's bound values but keeps its SQL (a 500's log line)", () => {
    const failed = Object.assign(new Error('column "name" of relation "api_keys" does not exist'), {
      name: 'QueryFailedError',
      query: 'INSERT INTO "api_keys"("id", "name") VALUES ($1, $2)',
      parameters: ['key_1', 'a name', 'c2VhbGVkLWNpcGhlcnRleHQ='],
    });
    const out = redact(failed) as Record<string, unknown>;
    expect(out.query).toBe('INSERT INTO "api_keys"("id", "name") VALUES ($1, $2)');
    expect(out.parameters).toBe(REDACTED);
    expect(JSON.stringify(out)).not.toContain('c2VhbGVkLWNpcGhlcnRleHQ=');
    // PostgreSQL's detail names the values too, on the error and on the driver's error inside it.
    const driverError = Object.assign(new Error('null value in column "wrapped_key"'), {
      code: '23502',
      detail: 'Failing row contains (1, c2VhbGVkLWNpcGhlcnRleHQ=, null).',
    });
    const notNull = Object.assign(new Error('null value in column "wrapped_key"'), {
      name: 'QueryFailedError',
      parameters: [],
      detail: driverError.detail,
      driverError,
    });
    const text = JSON.stringify(redact(notNull));
    expect(text).not.toContain('c2VhbGVkLWNpcGhlcnRleHQ=');
    expect(text).toContain('23502');
  });

  it('scrubs a known secret format glued to a word by an underscore', () => {
    expect(redactString('GET /admin/x_sk-ant-api03-abcdefghijkl')).toBe(`GET /admin/x_${REDACTED}`);
    expect(redactString('x_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(`x_${REDACTED_JWT}`);
    expect(redactString('task-12345678 ask-anything')).toBe('task-12345678 ask-anything'); // inside a word: no
  });

  it('keeps a member named __proto__ as a member, redacted like any other, as JSON.parse gave it', () => {
    const parsed = JSON.parse('{"q":1,"__proto__":{"apiKey":"sk-x","page":2}}') as object;
    const out = redact(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"q":1,"__proto__":{"apiKey":"[REDACTED]","page":2}}');
  });

  it('is cycle-safe but copies shared, acyclic references', () => {
    const shared = { v: 1 };
    const a: Record<string, unknown> = { name: 'a', left: shared, right: shared };
    a.self = a;
    const list: unknown[] = [1];
    list.push(list);
    const error = new Error('loop') as Error & { self?: unknown };
    error.self = error;
    const out = redact({ a, list, error });
    expect(out).toEqual({
      a: { name: 'a', left: { v: 1 }, right: { v: 1 }, self: CIRCULAR },
      list: [1, CIRCULAR],
      error: expect.objectContaining({ message: 'loop', self: CIRCULAR }),
    });
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('bounds depth and array length', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    const text = JSON.stringify(redact(deep, { maxDepth: 5 }));
    expect(text).toContain(TRUNCATED);
    expect(text).not.toContain('leaf');
    // maxDepth levels of objects are kept, the next is cut.
    expect(redact({ a: { b: { c: 1 } } }, { maxDepth: 2 })).toEqual({ a: { b: TRUNCATED } });
    const out = redact(
      Array.from({ length: 10 }, (_, i) => i),
      { maxArrayLength: 3 },
    );
    expect(out).toEqual([0, 1, 2, '[7 more items]']);
  });

  it('turns non-JSON values into safe representations without mutating the input', () => {
    const input = {
      when: new Date('2025-01-02T03:04:05.000Z'),
      big: 10n,
      bytes: Buffer.from('raw key material'),
      url: new URL('https://user:hunter2@example.com/x'),
      map: new Map([
        ['password', 'm'],
        ['ok', 'v'],
      ]),
      set: new Set(['Bearer abc', { apiKey: 'k' }]),
      headers: new Headers({ authorization: 'Bearer h', 'x-api-key': 'k', accept: 'application/json' }),
      fn: function named() {},
      password: 'keep-me-in-the-input',
    };
    const out = redact(input) as Record<string, unknown>;
    expect(out).toEqual({
      when: '2025-01-02T03:04:05.000Z',
      big: '10',
      bytes: '[Binary 16 bytes]',
      url: `https://user:${REDACTED}@example.com/x`,
      map: { password: REDACTED, ok: 'v' },
      set: [`Bearer ${REDACTED}`, { apiKey: REDACTED }],
      headers: { authorization: REDACTED, 'x-api-key': REDACTED, accept: 'application/json' },
      fn: '[Function named]',
      password: REDACTED,
    });
    expect(input.password).toBe('keep-me-in-the-input');
  });
});

describe('redact: headers as name/value lists', () => {
  it('redacts a value by its name in [name, value] pairs, as fetch takes headers', () => {
    const headers = [
      ['Authorization', 'opaque-credential'],
      ['X-Shopify-Access-Token', 'abc123'],
      ['Accept', 'application/json'],
      ['total_tokens', 120],
      ['pin', 1234],
      ['credentials', { user: 'u', key: 'k' }],
    ];
    expect(redact({ headers })).toEqual({
      headers: [
        ['Authorization', REDACTED],
        ['X-Shopify-Access-Token', REDACTED],
        ['Accept', 'application/json'],
        ['total_tokens', 120],
        ['pin', REDACTED],
        ['credentials', REDACTED],
      ],
    });
  });

  it('redacts the value after a secret name in a flat list of strings, as rawHeaders gives them', () => {
    const rawHeaders = ['Host', 'api.example', 'x-api-key', 'opaque-key', 'Cookie', 'sid=1', 'Accept', '*/*'];
    expect(redact(rawHeaders)).toEqual([
      'Host',
      'api.example',
      'x-api-key',
      REDACTED,
      'Cookie',
      REDACTED,
      'Accept',
      '*/*',
    ]);
  });

  it('reads a list as flat pairs only when it is an even number of strings, names at even places', () => {
    expect(redact(['password', 'x', 'y'])).toEqual(['password', 'x', 'y']);
    expect(redact(['x', 'password', 'y', 'z'])).toEqual(['x', 'password', 'y', 'z']);
    expect(redact(['password', 'x', 'y', 3])).toEqual(['password', 'x', 'y', 3]);
    expect(redact([['password', 'a', 'b']])).toEqual([['password', 'a', 'b']]);
  });
});

describe('redactString', () => {
  it.each([
    ['Authorization: Bearer abc.def-ghi_123', `Authorization: Bearer ${REDACTED}`],
    ['bearer xyz', `bearer ${REDACTED}`],
    ['Basic dXNlcjpwYXNz', `Basic ${REDACTED}`],
    ['the token is invalid', 'the token is invalid'],
    [`token is ${JWT} ok`, `token is ${REDACTED_JWT} ok`],
    ['postgres://app:s3cr3t@db:5432/sentia', `postgres://app:${REDACTED}@db:5432/sentia`],
    ['redis://:p%40ss@cache:6379', `redis://:${REDACTED}@cache:6379`],
    ['postgres://app:p@ss@db/sentia', `postgres://app:${REDACTED}@db/sentia`],
    ['https://u:pw@h/?to=a@b.c', `https://u:${REDACTED}@h/?to=a@b.c`],
    ['GET /cb?code=1&access_token=abc123&state=2', `GET /cb?code=1&access_token=${REDACTED}&state=2`],
    ['host=db user=app password=pw dbname=x', `host=db user=app password=${REDACTED} dbname=x`],
    ['GET /blob?sv=2024-01&sig=AbC%2Bd1&se=x', `GET /blob?sv=2024-01&sig=${REDACTED}&se=x`],
    ['secret=s3cr3t next', `secret=${REDACTED} next`],
    ['grant_type=x&client_secret=cs1&code=2', `grant_type=x&client_secret=${REDACTED}&code=2`],
    ['?api_key=k1&apikey=k2&token=t1', `?api_key=${REDACTED}&apikey=${REDACTED}&token=${REDACTED}`],
    ['nothing to see at https://example.com/a@b', 'nothing to see at https://example.com/a@b'],
    ['key sk-proj-AbC123dEf456_gh-ij in a note', `key ${REDACTED} in a note`],
    ['sk-ant-api03-Zz9Yy8Xx7Ww6', REDACTED],
    ['shop token shpat_0123456789abcdef0123', `shop token ${REDACTED}`],
    ['risk-free task-list sk-short', 'risk-free task-list sk-short'],
    // JSON members quoted in text: an upstream body in an error, a parser citing what it choked on.
    [
      'refresh failed: {"access_token":"at-123","token_type":"Bearer","expires_in":1800}',
      `refresh failed: {"access_token":"${REDACTED}","token_type":"Bearer","expires_in":1800}`,
    ],
    ['{"client_secret" : "c\\"s\\\\1", "scope":"a"}', `{"client_secret" : "${REDACTED}", "scope":"a"}`],
    [
      'Unexpected token in JSON: {"refresh_token":"rt-cut-sh',
      `Unexpected token in JSON: {"refresh_token":"${REDACTED}`,
    ],
    ['body {\\"password\\":\\"pw1\\"} end"', `body {\\"password\\":\\"${REDACTED}"`],
    [
      '{"tokenCount":"12","name":"x","apiKeyId":"k1","token":""}',
      '{"tokenCount":"12","name":"x","apiKeyId":"k1","token":""}',
    ],
    // Secret-named fields written as text: header dumps, prose, util.inspect output, other `name=` pairs.
    ['X-Shopify-Access-Token: abc123xyz', `X-Shopify-Access-Token: ${REDACTED}`],
    ['x-api-key:k-1 next', `x-api-key:${REDACTED} next`],
    ['login failed, password: hunter2.', `login failed, password: ${REDACTED}`],
    ["{ password: 'p w', user: 'x' }", `{ password: ${REDACTED}, user: 'x' }`],
    ['client_secret = "a b c" rest', `client_secret = ${REDACTED} rest`],
    ['shopify_access_token=abc&x=1', `shopify_access_token=${REDACTED}&x=1`],
    ['Authorization: Token abc', `Authorization: Token ${REDACTED}`],
    ['Cookie: sid=abc; theme=dark', `Cookie: ${REDACTED}; theme=dark`],
    ['token: 12345', `token: ${REDACTED}`],
    [`id_token: ${JWT}`, `id_token: ${REDACTED_JWT}`],
    // ...but not names that only name or count a secret, counts under counting names, or other fields.
    ['max_tokens: 1024, total_tokens=12', 'max_tokens: 1024, total_tokens=12'],
    ['apiKeyId: k1 token_type: Bearer', 'apiKeyId: k1 token_type: Bearer'],
    ['at 2026-12-05T19:20:00Z host: db:5432', 'at 2026-12-05T19:20:00Z host: db:5432'],
  ])('%s', (input, expected) => {
    expect(redactString(input)).toBe(expected);
  });

  it('scrubs strings anywhere in a structure', () => {
    expect(redact({ note: ['sent Bearer abc'], url: 'https://u:pw@h' })).toEqual({
      note: [`sent Bearer ${REDACTED}`],
      url: `https://u:${REDACTED}@h`,
    });
  });
});

describe('redactString on large and hostile text', () => {
  // The JWT rule as one regular expression, as it was: the reference for what is a JWT.
  const JWT_AS_ONE_EXPRESSION = /(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

  it('finds the JWTs the single expression finds, in any mix of their characters', () => {
    // Text only the JWT rule can touch (no ':', '=', '"', 's', 'B'...), drawn from a fixed seed.
    const alphabet = ['e', 'y', 'J', 'eyJ', 'eyJ', 'a', '1', '_', '-', '.', '.', ' ', '+'];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let redacted = 0;
    for (let n = 0; n < 5000; n++) {
      let text = '';
      for (let k = next() % 24; k > 0; k--) text += alphabet[next() % alphabet.length];
      const expected = text.replace(JWT_AS_ONE_EXPRESSION, REDACTED_JWT);
      expect(redactString(text)).toBe(expected);
      if (expected !== text) redacted++;
    }
    expect(redacted).toBeGreaterThan(100);
  });

  // Each used to be scanned once per position on the event loop: a 1 MB tool argument (the
  // default body limit) took minutes. In a vm with a watchdog so that a regression fails the test
  // rather than hanging it; linear, each takes milliseconds.
  it.each([
    ['letters, then a scheme separator after a space', 'a'.repeat(1_000_000) + ' ://'],
    ['eyJ glued by underscores, no dot', 'eyJ_'.repeat(250_000)],
    ['eyJ glued by underscores, then one dot', 'eyJ_'.repeat(250_000) + '.'],
    ['a run of name characters, then a colon', 'a.'.repeat(500_000) + ' :'],
  ])('reads 1 MB of %s in one pass', (_name, text) => {
    const out = runInNewContext('redactString(text)', { redactString, text }, { timeout: 20_000 });
    expect(out === text).toBe(true); // nothing in it to scrub (and no megabyte in a failure's message)
  });
});

describe('isSensitiveKey', () => {
  it.each([
    'Authorization',
    'x-api-key',
    'X-Shopify-Access-Token',
    'jwtSecret',
    'MASTER_ENCRYPTION_KEY',
    'clientSecret',
  ])('%s is sensitive', (key) => expect(isSensitiveKey(key)).toBe(true));
  it.each(['keyId', 'apiKeyId', 'organizationId', 'content-type', 'message', 'tokenType'])(
    '%s is not',
    (key) => expect(isSensitiveKey(key)).toBe(false),
  );
});
