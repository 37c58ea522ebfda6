import { Logger } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ApiKeyRepository } from '../../src/auth/api-key.repository';
import { API_KEY_TOKEN_TYPE } from '../../src/auth/tokens/api-key-token.service';
import { PERMISSIONS } from '../../src/auth/tokens/permissions';
import { KeyUsageRecorder } from '../../src/auth/key-usage.recorder';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { startApp, StartedApp } from '../support/start-app';
import {
  AUTH_ENV,
  bearer,
  decodeHeader,
  decodePayload,
  forge,
  issueKey,
  nowSeconds,
  systemActor,
} from './auth-helpers';
import { initializeRequest } from '../support/mcp-messages';

const BASE = AUTH_ENV.PUBLIC_BASE_URL;
const RESOURCE_METADATA = `resource_metadata="${BASE}/.well-known/oauth-protected-resource"`;

describe('AuthGuard over HTTP (SQLite + memory store)', () => {
  let started: StartedApp;
  let admin: { token: string; id: string };
  let revoked: { token: string; id: string };
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;

  beforeAll(async () => {
    started = await startApp(AUTH_ENV);
    const a = await issueKey(started, 'org-a', ['admin']);
    admin = { token: a.token, id: a.key.id };
    const r = await issueKey(started, 'org-a', ['admin'], 'to revoke');
    revoked = { token: r.token, id: r.key.id };
    await started.app.get(ApiKeysService).revoke(systemActor('org-a'), r.key.id, 'e2e');
    // Claims and header of a genuine token, to forge variants from.
    header = decodeHeader(admin.token);
    claims = decodePayload(admin.token);
  });

  afterAll(async () => {
    await started?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(started.url).get(path).set(headers);
  const withClaims = (over: Record<string, unknown>) => forge(header, { ...claims, ...over });
  const flipPayloadByte = (token: string) => {
    const [h, p, s] = token.split('.');
    const at = Math.floor(p.length / 2);
    return `${h}.${p.slice(0, at)}${p[at] === 'A' ? 'B' : 'A'}${p.slice(at + 1)}.${s}`;
  };

  type Row = [name: string, request: () => request.Test, reason: string, presented: boolean];
  const rows: Row[] = [
    ['no token', () => get('/admin/api-keys'), 'missing', false],
    ['"Bearer " with nothing', () => get('/admin/api-keys', { authorization: 'Bearer ' }), 'malformed', true],
    ['Basic credentials', () => get('/admin/api-keys', { authorization: 'Basic dTpw' }), 'malformed', true],
    [
      'alg none',
      () =>
        get(
          '/admin/api-keys',
          bearer(
            `${forge({ ...header, alg: 'none' }, claims)
              .split('.')
              .slice(0, 2)
              .join('.')}.`,
          ),
        ),
      'invalid',
      true,
    ],
    [
      'wrong secret',
      () => get('/admin/api-keys', bearer(forge(header, claims, 'w'.repeat(40)))),
      'invalid',
      true,
    ],
    [
      'flipped payload byte',
      () => get('/admin/api-keys', bearer(flipPayloadByte(admin.token))),
      'invalid',
      true,
    ],
    [
      'expired',
      () => get('/admin/api-keys', bearer(withClaims({ exp: nowSeconds() - 3600 }))),
      'expired',
      true,
    ],
    [
      'nbf in the future',
      () => get('/admin/api-keys', bearer(withClaims({ nbf: nowSeconds() + 3600 }))),
      'invalid',
      true,
    ],
    ['wrong iss', () => get('/admin/api-keys', bearer(withClaims({ iss: 'someone-else' }))), 'invalid', true],
    [
      'wrong aud',
      () => get('/admin/api-keys', bearer(withClaims({ aud: 'https://evil.example' }))),
      'invalid',
      true,
    ],
    [
      'wrong typ',
      () => get('/admin/api-keys', bearer(forge({ ...header, typ: 'JWT' }, claims))),
      'invalid',
      true,
    ],
    [
      'unknown kid',
      () => get('/admin/api-keys', bearer(forge({ ...header, kid: 'nope' }, claims))),
      'invalid',
      true,
    ],
    [
      'token only in the query string',
      () => get(`/admin/api-keys?access_token=${admin.token}`),
      'malformed',
      true,
    ],
    [
      'token in the query string and a valid header',
      () => get(`/admin/api-keys?token=${admin.token}`, bearer(admin.token)),
      'malformed',
      true,
    ],
    [
      'a JWS under any query name',
      () => get(`/admin/api-keys?x=${admin.token}`, bearer(admin.token)),
      'malformed',
      true,
    ],
    ['revoked key', () => get('/admin/api-keys', bearer(revoked.token)), 'revoked', true],
    [
      'well-signed token whose key id has no record',
      () => get('/admin/api-keys', bearer(withClaims({ jti: 'key_doesNotExist000000000' }))),
      'invalid',
      true,
    ],
    [
      'well-signed token naming an existing key in another organisation',
      () => get('/admin/api-keys', bearer(withClaims({ org: 'org-b' }))),
      'invalid',
      true,
    ],
    ['/mcp without a key', () => request(started.url).post('/mcp').send({}), 'missing', false],
    [
      '/mcp with an expired key',
      () =>
        request(started.url)
          .post('/mcp')
          .set(bearer(withClaims({ exp: nowSeconds() - 3600 })))
          .send({}),
      'expired',
      true,
    ],
  ];

  it.each(rows.map(([name, req, reason, presented]) => ({ name, req, reason, presented })))(
    '$name → 401 $reason',
    async ({ req, reason, presented }) => {
      const res = await req();
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        reason,
        code: reason,
        message: expect.any(String),
      });
      const www = res.headers['www-authenticate'];
      expect(www).toMatch(/^Bearer /);
      expect(www).toContain(RESOURCE_METADATA);
      if (presented) expect(www).toContain('error="invalid_token"');
      else expect(www).not.toContain('error=');
      expect(JSON.stringify(res.body)).not.toContain(admin.token.split('.')[2]);
    },
  );

  it('tells a caller whose Authorization header is not "Bearer <token>" what the header must be', async () => {
    for (const authorization of [admin.token, `Basic ${Buffer.from('u:p').toString('base64')}`]) {
      for (const res of [
        await get('/admin/api-keys', { authorization }),
        await request(started.url).post('/mcp').set({ authorization }).send({}),
      ]) {
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({
          reason: 'malformed',
          code: 'malformed',
          message: 'The Authorization header must be "Bearer <API key>"',
        });
      }
    }
    // A Bearer header whose credential is broken is still the key's fault.
    const broken = await get('/admin/api-keys', { authorization: 'Bearer a b' });
    expect(broken.body.message).toBe('The API key is malformed');
  });

  it('admits the genuine key (the baseline of the table)', async () => {
    const res = await get('/admin/api-keys', bearer(admin.token));
    expect(res.status).toBe(200);
    expect(res.body.items.map((k: { id: string }) => k.id)).toContain(admin.id);
  });

  it('admits an MCP client with a key', async () => {
    const res = await request(started.url)
      .post('/mcp')
      .set(bearer(admin.token))
      .set('accept', 'application/json, text/event-stream')
      .send(initializeRequest('2025-06-18', 'e2e'));
    expect(res.status).toBe(200);
  });

  it('403 insufficient_scope names the permission the route needs', async () => {
    const weak = await issueKey(started, 'org-a', ['xero:read']);
    const res = await get('/admin/api-keys', bearer(weak.token));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      statusCode: 403,
      reason: 'insufficient_scope',
      permission: 'keys:admin',
    });
    expect(res.body.message).toContain('keys:admin');
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="keys:admin", ${RESOURCE_METADATA}`,
    );
  });

  it('leaves public routes open: /health and the RFC 9728 documents', async () => {
    expect((await get('/health')).status).toBe(200);
    // `resource` is what each well-known URL was derived from (RFC 9728 §3.3). No authorization server
    // is configured: API keys need none, and an empty list would name none (so the field is left out).
    for (const [path, resource] of [
      ['/.well-known/oauth-protected-resource', BASE],
      ['/.well-known/oauth-protected-resource/mcp', `${BASE}/mcp`],
    ]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        resource,
        scopes_supported: [...PERMISSIONS],
        bearer_methods_supported: ['header'],
        resource_name: 'Sentia MCP',
        resource_documentation: `${BASE}/docs`,
      });
    }
  });

  it('names the configured authorization servers, and no documentation where /docs is not served', async () => {
    const other = await startApp({
      ...AUTH_ENV,
      AUTHORIZATION_SERVERS: 'https://auth.e2e.test',
      API_DOCS: 'false',
    });
    try {
      const res = await request(other.url).get('/.well-known/oauth-protected-resource/mcp');
      expect(res.body).toEqual({
        resource: `${BASE}/mcp`,
        authorization_servers: ['https://auth.e2e.test'],
        scopes_supported: [...PERMISSIONS],
        bearer_methods_supported: ['header'],
        resource_name: 'Sentia MCP',
      });
    } finally {
      await other.close();
    }
  });

  it('the token the service signs has the documented header and audience', () => {
    expect(header).toEqual({ alg: 'HS256', typ: API_KEY_TOKEN_TYPE, kid: 'k1' });
    expect(claims).toMatchObject({ aud: BASE, org: 'org-a', jti: admin.id });
  });

  it('logs refusals as security events at warn with the verified key id, never the token', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      await get('/admin/api-keys', bearer(revoked.token));
      await get('/admin/api-keys', bearer(withClaims({ exp: nowSeconds() - 3600 })));
      await get('/admin/api-keys', bearer(withClaims({ aud: 'http://127.0.0.1:3000' })));
      await get('/admin/api-keys', bearer(forge(header, claims, 'w'.repeat(40))));
      await get(`/admin/api-keys?access_token=${admin.token}`);
      const events = warn.mock.calls
        .map(([m]) => m as Record<string, unknown>)
        .filter((m) => m?.message === 'Security event');
      expect(events).toEqual([
        expect.objectContaining({
          event: 'auth.refused',
          reason: 'revoked',
          keyId: revoked.id,
          path: '/admin/api-keys',
        }),
        expect.objectContaining({ event: 'auth.refused', reason: 'expired', keyId: admin.id }),
        // Signed by this server's key for another URL (a key minted with another PORT or PUBLIC_BASE_URL):
        // the client is told `invalid`, the operator which audience it names.
        expect.objectContaining({
          event: 'auth.refused',
          reason: 'wrong_audience',
          keyId: admin.id,
          detail: `issued for "http://127.0.0.1:3000", not for this server's PUBLIC_BASE_URL "${BASE}"`,
        }),
        expect.objectContaining({ event: 'auth.refused', reason: 'invalid' }),
        expect.objectContaining({ event: 'auth.refused', reason: 'malformed' }),
      ]);
      expect(events[3]).not.toHaveProperty('keyId'); // a forged token's claims are not trusted, not even for logs
      const logged = JSON.stringify(warn.mock.calls);
      for (const t of [admin.token, revoked.token]) expect(logged).not.toContain(t.split('.')[2]);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a key whose record says revoked, found by the lookup before any announcement or poll', async () => {
    // Revoked in the database only (another process, a restored backup): never announced, never loaded yet.
    const victim = await issueKey(started, 'org-a', ['keys:admin'], 'revoked behind our back');
    await started.app.get(ApiKeyRepository).revoke('org-a', victim.key.id, 'db only', new Date());
    const res = await get('/admin/api-keys', bearer(victim.token));
    expect([res.status, res.body.reason]).toEqual([401, 'revoked']);
  });

  it('while api_keys cannot be read: a known key still works, an unseen one is 503, a revoked one 401, and a stale revoked set 503', async () => {
    const ds = started.app.get(DataSource);
    const mcpInit = (token: string) =>
      request(started.url)
        .post('/mcp')
        .set(bearer(token))
        .set('accept', 'application/json, text/event-stream')
        .send(initializeRequest('2025-06-18', 'e2e'));
    const known = await issueKey(started, 'org-a', ['admin'], 'known before the outage');
    expect((await mcpInit(known.token)).status).toBe(200); // its record is now known in memory
    // Revoked (and announced) but never presented: its record was never read.
    const dropped = await issueKey(started, 'org-a', ['admin'], 'revoked before the outage');
    await started.app.get(ApiKeysService).revoke(systemActor('org-a'), dropped.key.id, 'e2e');
    await ds.query('ALTER TABLE api_keys RENAME TO api_keys_off');
    let clock: jest.SpyInstance | undefined;
    try {
      expect((await mcpInit(known.token)).status).toBe(200);
      // A well-signed key this instance has never seen cannot be checked: fail closed.
      const unseen = await mcpInit(withClaims({ jti: 'key_neverSeenByThisInstance0' }));
      expect([unseen.status, unseen.body.reason, unseen.headers['retry-after']]).toEqual([
        503,
        'auth_unavailable',
        '5',
      ]);
      // The revoked set in memory still answers for a revoked key, without the database.
      const gone = await mcpInit(dropped.token);
      expect([gone.status, gone.body.reason]).toEqual([401, 'revoked']);
      // 20 s on without a load (the table stays unreadable): the revoked set is stale, even a known key waits.
      const later = Date.now() + 20_000;
      clock = jest.spyOn(Date, 'now').mockReturnValue(later);
      const stale = await mcpInit(known.token);
      expect([stale.status, stale.body.reason]).toEqual([503, 'auth_unavailable']);
    } finally {
      clock?.mockRestore();
      await ds.query('ALTER TABLE api_keys_off RENAME TO api_keys');
    }
  });

  it('records last use in memory and writes it in the next batch', async () => {
    const fresh = await issueKey(started, 'org-a', ['keys:admin']);
    const before = Date.now();
    expect((await get(`/admin/api-keys/${fresh.key.id}`, bearer(fresh.token))).body.lastUsedAt).toBeNull();
    await started.app.get(KeyUsageRecorder).flush();
    const after = await get(`/admin/api-keys/${fresh.key.id}`, bearer(admin.token));
    expect(new Date(after.body.lastUsedAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
  });
});
