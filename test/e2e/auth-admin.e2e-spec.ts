import request from 'supertest';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey, registerToken, sleep } from './auth-helpers';

describe('Admin REST /admin/api-keys (SQLite + memory store)', () => {
  let started: StartedApp;
  let adminA: string;
  let keysAdminA: string;
  let adminB: string;

  beforeAll(async () => {
    started = await startApp(AUTH_ENV);
    adminA = (await issueKey(started, 'org-a', ['admin'], 'admin a')).token;
    keysAdminA = (await issueKey(started, 'org-a', ['keys:admin', 'xero:read'], 'keys admin a')).token;
    adminB = (await issueKey(started, 'org-b', ['admin'], 'admin b')).token;
  });

  afterAll(async () => {
    await started?.close();
  });

  const api = () => request(started.url);
  const create = async (token: string, body: Record<string, unknown>) => {
    const res = await api().post('/admin/api-keys').set(bearer(token)).send(body);
    if (typeof res.body?.token === 'string') registerToken(res.body.token, 'POST /admin/api-keys');
    return res;
  };

  it('creates a key: 201 with the token once; the token works; no read shows it again', async () => {
    const res = await create(adminA, {
      name: 'ci',
      permissions: ['xero:read', 'keys:admin'],
      expiresIn: '12h',
    });
    expect(res.status).toBe(201);
    const { key, token } = res.body;
    expect(key).toMatchObject({
      name: 'ci',
      organizationId: 'org-a',
      permissions: ['xero:read', 'keys:admin'],
      status: 'active',
    });
    expect(Math.abs(new Date(key.expiresAt).getTime() - (Date.now() + 12 * 3600_000))).toBeLessThan(10_000);
    expect(typeof token).toBe('string');

    // Location names where the new key is read back.
    expect(res.headers.location).toBe(`/admin/api-keys/${key.id}`);
    const one = await api().get(res.headers.location).set(bearer(token));
    expect(one.status).toBe(200);
    expect(one.body).toEqual(key);
    const list = await api().get('/admin/api-keys?limit=100').set(bearer(adminA));
    expect(JSON.stringify(list.body)).not.toContain(token.split('.')[2]);
    expect(JSON.stringify(one.body)).not.toContain(token.split('.')[2]);
  });

  it('400 names the bad field', async () => {
    const res = await create(adminA, { name: '', permissions: ['root'], expiresIn: '5 years', extra: true });
    expect(res.status).toBe(400);
    for (const field of ['name', 'permissions.0', 'expiresIn', 'extra'])
      expect(res.body.message).toContain(field);
    expect(res.body.message).toContain('permissions.0: "root" is not a permission; use one of: xero:read');
    expect(res.body.code).toBe('invalid_body'); // the part of the request refused, as every 400 names it
    const limit = await api().get('/admin/api-keys?limit=500').set(bearer(adminA));
    expect(limit.body).toMatchObject({
      code: 'invalid_query',
      field: 'limit',
      errors: [{ field: 'limit', message: 'must be at most 100' }],
    });
    const cursor = await api().get('/admin/api-keys?cursor=bogus').set(bearer(adminA));
    expect(cursor.status).toBe(400);
    expect(cursor.body).toMatchObject({
      code: 'invalid_query',
      field: 'cursor',
      errors: [{ field: 'cursor', message: 'not a cursor this server issued' }],
    });
    // A well-formed cursor whose time no database stores (PostgreSQL answered 500, SQLite an empty page).
    for (const ms of [
      Number.MAX_SAFE_INTEGER,
      -8_640_000_000_000_000,
      Date.parse('+010000-01-01T00:00:00Z'),
    ]) {
      const forged = Buffer.from(JSON.stringify([ms, 'key_x'])).toString('base64url');
      const res = await api().get(`/admin/api-keys?cursor=${forged}`).set(bearer(adminA));
      expect([ms, res.status, res.body.code]).toEqual([ms, 400, 'invalid_query']);
    }
    const unknown = await api().get('/admin/api-keys?colour=red&status=gone').set(bearer(adminA));
    expect(unknown.body.errors).toEqual([
      { field: 'status', message: 'must be one of: active, revoked, expired' },
      { field: 'colour', message: 'is not a known query parameter (known: limit, cursor, status, name)' },
    ]);
    // However many are wrong, the answer stays small: 20 named, then a count.
    const flood = Array.from({ length: 500 }, (_, i) => `p${i}=1`).join('&');
    const many = await api().get(`/admin/api-keys?${flood}`).set(bearer(adminA));
    expect(many.status).toBe(400);
    expect(many.body.errors).toHaveLength(20);
    expect(many.body.message).toMatch(/; and 480 more$/);
    const repeated = await api().get('/admin/api-keys?limit=1&limit=2').set(bearer(adminA));
    expect(repeated.status).toBe(400);
    expect(repeated.body.message).toBe('limit: must be a whole number, given once');
  });

  it('a route that takes no query refuses a parameter by name (400 invalid_query) and changes nothing', async () => {
    const { key } = (await create(adminA, { name: 'queried', permissions: ['xero:read'] })).body;
    const before = (await api().get('/admin/api-keys?limit=100').set(bearer(adminA))).body.items.length;
    const calls = [
      api()
        .post('/admin/api-keys?dryRun=true')
        .set(bearer(adminA))
        .send({ name: 'n', permissions: ['xero:read'] }),
      api().get(`/admin/api-keys/${key.id}?fields=token`).set(bearer(adminA)),
      api().post(`/admin/api-keys/${key.id}/revoke?force=1`).set(bearer(adminA)).send({ reason: 'x' }),
      api().post(`/admin/api-keys/${key.id}/rotate?graceSeconds=60`).set(bearer(adminA)).send({}),
    ];
    for (const [res, field] of (await Promise.all(calls)).map(
      (r, i) => [r, ['dryRun', 'fields', 'force', 'graceSeconds'][i]] as const,
    )) {
      expect([field, res.status, res.body]).toEqual([
        field,
        400,
        expect.objectContaining({
          code: 'invalid_query',
          field,
          message: `${field}: is not a known query parameter (none is taken)`,
        }),
      ]);
    }
    // Nothing was created, revoked or rotated.
    expect((await api().get('/admin/api-keys?limit=100').set(bearer(adminA))).body.items).toHaveLength(
      before,
    );
    expect((await api().get(`/admin/api-keys/${key.id}`).set(bearer(adminA))).body).toMatchObject({
      status: 'active',
    });
  });

  it('a key may grant only permissions it holds (403 names the permission); admin grants anything', async () => {
    const denied = await create(keysAdminA, { name: 'escalate', permissions: ['xero:read', 'admin'] });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'permission_not_held', permission: 'admin' });
    expect(denied.body.message).toContain('admin');
    const alsoDenied = await create(keysAdminA, { name: 'escalate', permissions: ['credentials:write'] });
    expect(alsoDenied.body.permission).toBe('credentials:write');
    expect((await create(keysAdminA, { name: 'ok', permissions: ['xero:read'] })).status).toBe(201);
    expect((await create(adminA, { name: 'ok', permissions: ['credentials:write', 'admin'] })).status).toBe(
      201,
    );
  });

  it('an expiring key issues and rotates only keys that expire no later than itself', async () => {
    const short = await create(adminA, {
      name: 'short admin',
      permissions: ['keys:admin', 'xero:read'],
      expiresIn: '1h',
    });
    const limit = new Date(short.body.key.expiresAt).getTime();
    const shortToken: string = short.body.token;

    const longer = await create(shortToken, {
      name: 'forever',
      permissions: ['keys:admin'],
      expiresIn: '2h',
    });
    expect(longer.status).toBe(403);
    expect(longer.body).toMatchObject({ code: 'lifetime_not_held' });
    expect(longer.body.message).toContain(new Date(limit).toISOString());
    expect(longer.body.message).toMatch(/expiresIn of at most 3[456]\d\d seconds/);

    // No expiresIn: the new key expires with its issuer, not never.
    const implicit = await create(shortToken, { name: 'implicit', permissions: ['keys:admin'] });
    expect(implicit.status).toBe(201);
    expect(new Date(implicit.body.key.expiresAt).getTime()).toBe(limit);
    const within = await create(shortToken, {
      name: 'within',
      permissions: ['keys:admin'],
      expiresIn: '30m',
    });
    expect(within.status).toBe(201);
    expect(new Date(within.body.key.expiresAt).getTime()).toBeLessThan(limit);

    // Rotating itself (or a never-expiring key) gives a successor capped at the rotator's expiry.
    const never = await create(adminA, { name: 'never', permissions: ['xero:read'] });
    const self = await api()
      .post(`/admin/api-keys/${short.body.key.id}/rotate`)
      .set(bearer(shortToken))
      .send({});
    expect([self.status, self.body.code]).toEqual([201, undefined]);
    registerToken(self.body.token, 'rotate');
    expect(new Date(self.body.key.expiresAt).getTime()).toBeLessThanOrEqual(limit);
    const rotated = await api()
      .post(`/admin/api-keys/${never.body.key.id}/rotate`)
      .set(bearer(self.body.token))
      .send({});
    expect([rotated.status, rotated.body.code]).toEqual([201, undefined]);
    expect(rotated.headers.location).toBe(`/admin/api-keys/${rotated.body.key.id}`); // the successor
    registerToken(rotated.body.token, 'rotate');
    expect(new Date(rotated.body.key.expiresAt).getTime()).toBeLessThanOrEqual(limit);
    // A key that never expires still issues keys that never expire.
    expect(
      (await create(adminA, { name: 'forever ok', permissions: ['xero:read'] })).body.key.expiresAt,
    ).toBeNull();
  });

  it('lists newest first in pages joined by a cursor, with filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await create(adminB, { name: `page-${i}`, permissions: ['xero:read'] })).body.key.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await api()
        .get('/admin/api-keys')
        .query({ limit: 2, name: 'PAGE-', ...(cursor ? { cursor } : {}) })
        .set(bearer(adminB));
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((k: { id: string }) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    // Every key exactly once, newest first (keys made in the same millisecond tie-break by id).
    expect(seen).toHaveLength(ids.length);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(seen[0]).toBe(ids[ids.length - 1]);

    await api().post(`/admin/api-keys/${ids[1]}/revoke`).set(bearer(adminB)).send({ reason: 'test' });
    const revoked = await api().get('/admin/api-keys?status=revoked').set(bearer(adminB));
    expect(revoked.body.items.map((k: { id: string }) => k.id)).toEqual([ids[1]]);
    const active = await api().get('/admin/api-keys?status=active&name=page').set(bearer(adminB));
    expect(active.body.items).toHaveLength(4);
    // A LIKE wildcard in the filter is taken literally.
    expect((await api().get('/admin/api-keys?name=pa%25e').set(bearer(adminB))).body.items).toHaveLength(0);
  });

  it('revokes: the key is refused at once; a second revoke is 409', async () => {
    const { key, token } = (await create(adminA, { name: 'short-lived', permissions: ['keys:admin'] })).body;
    expect((await api().get('/admin/api-keys').set(bearer(token))).status).toBe(200);
    const res = await api()
      .post(`/admin/api-keys/${key.id}/revoke`)
      .set(bearer(adminA))
      .send({ reason: 'leaked' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: key.id, status: 'revoked', revokedReason: 'leaked' });
    const refused = await api().get('/admin/api-keys').set(bearer(token));
    expect(refused.status).toBe(401);
    expect(refused.body.reason).toBe('revoked');
    expect((await api().post(`/admin/api-keys/${key.id}/revoke`).set(bearer(adminA)).send({})).status).toBe(
      409,
    );
  });

  it('rotates: same grants under a new token; the old one stops now, or after the grace period', async () => {
    const { key, token } = (
      await create(adminA, { name: 'rotating', permissions: ['keys:admin'], expiresIn: 3600 })
    ).body;
    const now = await api().post(`/admin/api-keys/${key.id}/rotate`).set(bearer(adminA)).send({});
    expect(now.status).toBe(201);
    registerToken(now.body.token, 'rotate');
    expect(now.body.key).toMatchObject({ name: 'rotating', permissions: ['keys:admin'], status: 'active' });
    expect(now.body.key.id).not.toBe(key.id);
    expect(now.body.previous).toMatchObject({ id: key.id, status: 'revoked' });
    expect((await api().get('/admin/api-keys').set(bearer(token))).status).toBe(401);
    expect((await api().get('/admin/api-keys').set(bearer(now.body.token))).status).toBe(200);
    expect((await api().post(`/admin/api-keys/${key.id}/rotate`).set(bearer(adminA)).send({})).status).toBe(
      409,
    );

    const second = now.body;
    const graced = await api()
      .post(`/admin/api-keys/${second.key.id}/rotate`)
      .set(bearer(adminA))
      .send({ graceSeconds: 2 });
    expect(graced.status).toBe(201);
    registerToken(graced.body.token, 'rotate');
    expect((await api().get('/admin/api-keys').set(bearer(second.token))).status).toBe(200);
    await sleep(2300);
    const after = await api().get('/admin/api-keys').set(bearer(second.token));
    expect(after.status).toBe(401);
    expect(after.body.reason).toBe('revoked');
    expect((await api().get('/admin/api-keys').set(bearer(graced.body.token))).status).toBe(200);
  });

  it('rotation cannot escalate: rotating an admin key needs admin', async () => {
    const target = (await create(adminA, { name: 'mighty', permissions: ['admin'] })).body.key;
    const res = await api().post(`/admin/api-keys/${target.id}/rotate`).set(bearer(keysAdminA)).send({});
    expect(res.status).toBe(403);
    expect(res.body.permission).toBe('admin');
  });

  it("another organisation's key id is 404 on every admin route, never 403, and never listed", async () => {
    const foreign = (await create(adminA, { name: 'org-a secret', permissions: ['xero:read'] })).body.key;
    const routes: [string, () => request.Test][] = [
      ['GET :id', () => api().get(`/admin/api-keys/${foreign.id}`).set(bearer(adminB))],
      [
        'POST :id/revoke',
        () => api().post(`/admin/api-keys/${foreign.id}/revoke`).set(bearer(adminB)).send({ reason: 'x' }),
      ],
      [
        'POST :id/rotate',
        () => api().post(`/admin/api-keys/${foreign.id}/rotate`).set(bearer(adminB)).send({}),
      ],
    ];
    for (const [name, call] of routes) {
      const res = await call();
      expect({ name, status: res.status, body: res.body }).toEqual({
        name,
        status: 404,
        body: { statusCode: 404, error: 'Not Found', code: 'not_found', message: 'API key not found' },
      });
    }
    // The same answer as for an id that exists nowhere.
    expect((await api().get('/admin/api-keys/key_nothing').set(bearer(adminB))).body).toEqual(
      (await api().get(`/admin/api-keys/${foreign.id}`).set(bearer(adminB))).body,
    );
    const listB = await api().get('/admin/api-keys?limit=100').set(bearer(adminB));
    expect(listB.body.items.every((k: { organizationId: string }) => k.organizationId === 'org-b')).toBe(
      true,
    );
    // Untouched: still active in org-a.
    expect((await api().get(`/admin/api-keys/${foreign.id}`).set(bearer(adminA))).body.status).toBe('active');
  });

  it('serves no /docs with API_DOCS=false (the default in staging and production)', async () => {
    const closed = await startApp({ ...AUTH_ENV, API_DOCS: 'false' });
    try {
      for (const path of ['/docs', '/docs/openapi.json']) {
        const res = await request(closed.url).get(path);
        expect([path, res.status]).toEqual([path, 404]);
        expect(res.text).not.toContain('/admin/api-keys');
      }
      expect((await request(closed.url).get('/health')).status).toBe(200);
    } finally {
      await closed.close();
    }
  });

  it('documents the routes in OpenAPI', async () => {
    const doc = (await api().get('/docs/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/admin/api-keys',
        '/admin/api-keys/{id}',
        '/admin/api-keys/{id}/revoke',
        '/admin/api-keys/{id}/rotate',
      ]),
    );
    // Every audited operation documents its 503 (database, audit trail or key check unavailable).
    const audited = Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>).filter(
      ([path]) => path.startsWith('/admin/') || path.startsWith('/credentials'),
    );
    const operations = audited.flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => [`${m} ${path}`, op]),
    );
    expect(operations.length).toBeGreaterThanOrEqual(11);
    for (const [name, op] of operations) {
      expect([
        name,
        (op as { responses: Record<string, { description?: string }> }).responses['503']?.description,
      ]).toEqual([name, expect.stringContaining('database_unavailable')]);
      // And the 429 of the rate limits, which every keyed route counts against.
      expect(Object.keys((op as { responses: object }).responses)).toContain('429');
    }
    // The audit routes name their filters (a generated client gets them), and the 400 for a bad one.
    const list = doc.paths['/admin/audit'].get;
    const names = (op: { parameters: Array<{ name: string }> }) => op.parameters.map((p) => p.name).sort();
    expect(names(list)).toEqual(
      ['action', 'cursor', 'from', 'keyId', 'kind', 'limit', 'outcome', 'to', 'userId'].sort(),
    );
    expect(names(doc.paths['/admin/audit/export'].get)).toEqual(
      ['action', 'format', 'from', 'keyId', 'kind', 'outcome', 'to', 'userId'].sort(),
    );
    expect(Object.keys(list.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '429', '503']));
  });
});
