/**
 * Security events and admin actions through the whole application (SQLite +
 * memory store), as an operator sees them in the audit trail, /metrics and
 * the logs:
 * - REST create / revoke / rotate of API keys leave exactly one admin row
 *   each, written in the change's transaction: when that row cannot be
 *   written the change does not happen either (and the failed call is still
 *   audited once);
 * - every refused request (401 by reason, 403) is answered as before, counted
 *   in auth_failures_total{reason} and audited with ip, user agent, request
 *   id, status and error code; a flood of bad tokens is answered and counted
 *   in full;
 * - no token appears in any audit row or log line of the run.
 */
jest.setTimeout(60_000);

import { WINSTON_MODULE_PROVIDER } from 'nest-winston';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { transports, type Logger as WinstonLogger } from 'winston';
import { argsDigest } from '../../src/audit/audit-record';
import { AuditWriter } from '../../src/audit/audit.writer';
import { LogCapture } from '../../src/observability/log-capture';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, decodeHeader, decodePayload, forge, issueKey, nowSeconds } from './auth-helpers';

type Row = Record<string, unknown>;
const UA = 'security-events-e2e/1';

describe('security events and audited key changes (e2e, SQLite + memory store)', () => {
  let started: StartedApp;
  let ds: DataSource;
  let writer: AuditWriter;
  let admin: { token: string; id: string };
  let reader: { token: string; id: string };
  /** Every token the run has seen: none may show up in an audit row or a log line. */
  const tokens: string[] = [];
  const logs = new LogCapture();

  beforeAll(async () => {
    started = await startApp({
      ...AUTH_ENV,
      METRICS_PUBLIC: 'true',
      LOG_LEVEL: 'debug',
      RATE_LIMIT_MAX: '100000',
      RATE_LIMIT_IP_MAX: '100000',
    });
    const logger = started.app.get<WinstonLogger>(WINSTON_MODULE_PROVIDER);
    for (const t of logger.transports) if (t instanceof transports.Console) t.silent = true;
    logger.add(new transports.Stream({ stream: logs.stream }));
    ds = started.app.get(DataSource);
    writer = started.app.get(AuditWriter);
    const a = await issueKey(started, 'org-sec', ['admin'], 'admin');
    const r = await issueKey(started, 'org-sec', ['xero:read'], 'reader');
    admin = { token: a.token, id: a.key.id };
    reader = { token: r.token, id: r.key.id };
    tokens.push(a.token, r.token);
  });

  afterAll(async () => {
    await started?.close();
  });

  const api = () => request(started.url);
  const as = (token: string, requestId: string) => ({
    ...bearer(token),
    'x-request-id': requestId,
    'user-agent': UA,
  });
  const rowsFor = async (requestId: string): Promise<Row[]> => {
    await writer.flush();
    return ds.query('SELECT * FROM audit_logs WHERE request_id = ? ORDER BY id', [requestId]);
  };
  const authFailures = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${started.url}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^auth_failures_total\{reason="([^"]+)"\} (\S+)$/gm))
      out[m[1]] = Number(m[2]);
    return out;
  };
  const delta = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(
      Object.keys(after)
        .map((k) => [k, after[k] - (before[k] ?? 0)] as const)
        .filter(([, d]) => d !== 0),
    );

  describe('key changes over REST', () => {
    it('create, revoke and rotate each leave exactly one admin row with their action, written in their transaction', async () => {
      const created = await api()
        .post('/admin/api-keys')
        .set(as(admin.token, 'sec-create'))
        .send({ name: 'ci', permissions: ['xero:read'] });
      expect(created.status).toBe(201);
      tokens.push(created.body.token);
      const id = created.body.key.id as string;

      const rotated = await api()
        .post(`/admin/api-keys/${id}/rotate`)
        .set(as(admin.token, 'sec-rotate'))
        .send({});
      expect(rotated.status).toBe(201);
      tokens.push(rotated.body.token);
      const successor = rotated.body.key.id as string;
      const revoked = await api()
        .post(`/admin/api-keys/${successor}/revoke`)
        .set(as(admin.token, 'sec-revoke'))
        .send({ reason: 'e2e' });
      expect(revoked.status).toBe(200);

      const expected: Array<[string, string, string]> = [
        ['sec-create', 'api_key.create', id],
        ['sec-rotate', 'api_key.rotate', id],
        ['sec-revoke', 'api_key.revoke', successor],
      ];
      for (const [requestId, action] of expected) {
        const rows = await rowsFor(requestId);
        expect(rows).toHaveLength(1); // the interceptor added no second row
        expect(rows[0]).toMatchObject({
          kind: 'admin',
          action,
          outcome: 'success',
          organization_id: 'org-sec',
          user_id: 'u-e2e',
          key_id: admin.id,
          user_agent: UA,
          request_id: requestId,
        });
        expect(String(rows[0].ip)).toMatch(/127\.0\.0\.1/);
        // Not the group commit's chain: its own, as recordInTransaction writes inside the change's transaction.
        expect(rows[0].writer_id).not.toBe(writer.writerId);
      }
      // The target key is in the digest (the create record, whose facts are all known here).
      const [create] = await rowsFor('sec-create');
      expect(create.args_digest).toBe(
        argsDigest({ keyId: id, name: 'ci', userId: 'u-e2e', permissions: ['xero:read'], expiresAt: null }),
      );
    });

    it('a change whose audit row cannot be written does not happen, and the failed call is audited once', async () => {
      const victim = await issueKey(started, 'org-sec', ['xero:read'], 'victim');
      tokens.push(victim.token);
      await ds.query(
        `CREATE TRIGGER refuse_key_audit BEFORE INSERT ON audit_logs WHEN NEW.action LIKE 'api_key.%'
         BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END`,
      );
      let create, revoke, rotate;
      try {
        create = await api()
          .post('/admin/api-keys')
          .set(as(admin.token, 'sec-doomed-create'))
          .send({ name: 'doomed', permissions: ['xero:read'] });
        revoke = await api()
          .post(`/admin/api-keys/${victim.key.id}/revoke`)
          .set(as(admin.token, 'sec-doomed-revoke'))
          .send({});
        rotate = await api()
          .post(`/admin/api-keys/${victim.key.id}/rotate`)
          .set(as(admin.token, 'sec-doomed-rotate'))
          .send({});
      } finally {
        await ds.query('DROP TRIGGER refuse_key_audit');
      }
      for (const res of [create, revoke, rotate]) {
        expect(res.status).toBe(500);
        expect(res.text).not.toMatch(/refused by the test|SQLITE|audit_logs/i); // nothing internal leaks
      }
      const list = await api().get('/admin/api-keys?limit=100').set(bearer(admin.token));
      expect(list.body.items.map((k: { name: string }) => k.name)).not.toContain('doomed');
      expect(list.body.items.filter((k: { name: string }) => k.name === 'victim')).toHaveLength(1); // no successor
      // Neither revoked nor rotated: the victim's token still works.
      const still = await api().get(`/admin/api-keys/${victim.key.id}`).set(bearer(admin.token));
      expect(still.body).toMatchObject({ status: 'active', revokedAt: null });
      expect((await api().get('/health').set(bearer(victim.token))).status).toBe(200);

      for (const [requestId, route] of [
        ['sec-doomed-create', 'POST /admin/api-keys'],
        ['sec-doomed-revoke', 'POST /admin/api-keys/:id/revoke'],
        ['sec-doomed-rotate', 'POST /admin/api-keys/:id/rotate'],
      ]) {
        const rows = await rowsFor(requestId);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ kind: 'admin', action: route, status: 500, outcome: 'server_error' });
      }
    });

    it('a refused change (409) is audited once with the status the caller got', async () => {
      const k = await issueKey(started, 'org-sec', ['xero:read'], 'twice');
      tokens.push(k.token);
      expect(
        (await api().post(`/admin/api-keys/${k.key.id}/revoke`).set(as(admin.token, 'sec-r1')).send({}))
          .status,
      ).toBe(200);
      expect(
        (await api().post(`/admin/api-keys/${k.key.id}/revoke`).set(as(admin.token, 'sec-r2')).send({}))
          .status,
      ).toBe(409);
      const rows = await rowsFor('sec-r2');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        action: 'POST /admin/api-keys/:id/revoke',
        status: 409,
        outcome: 'client_error',
        error_code: 'not_revocable',
      });
    });
  });

  describe('refused requests', () => {
    it('are answered as before, counted by reason, and audited with who, from where and why', async () => {
      const header = decodeHeader(admin.token);
      const claims = decodePayload(admin.token);
      const expired = forge(header, { ...claims, iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 });
      const forged = forge(header, claims, 'w'.repeat(40));
      const unknown = forge(header, { ...claims, jti: 'key_AAAAAAAAAAAAAAAAAAAAAA' });
      const elsewhere = forge(header, { ...claims, aud: 'https://another-server.example' });
      const gone = await issueKey(started, 'org-sec', ['admin'], 'gone');
      await api().post(`/admin/api-keys/${gone.key.id}/revoke`).set(bearer(admin.token)).send({});
      tokens.push(expired, forged, unknown, elsewhere, gone.token);

      const cases: Array<
        [
          id: string,
          headers: Record<string, string>,
          path: string,
          status: number,
          reason: string,
          action: string,
          keyId: string | null,
        ]
      > = [
        ['sec-missing', {}, '/admin/api-keys', 401, 'missing', 'auth.missing_token', null],
        [
          'sec-malformed',
          { authorization: 'Bearer not-a-jws' },
          '/admin/api-keys',
          401,
          'malformed',
          'auth.malformed_token',
          null,
        ],
        [
          'sec-query',
          {},
          `/admin/api-keys?access_token=${admin.token}`,
          401,
          'malformed',
          'auth.token_in_query',
          null,
        ],
        ['sec-forged', bearer(forged), '/admin/api-keys', 401, 'invalid', 'auth.invalid_token', null],
        [
          'sec-unknown',
          bearer(unknown),
          '/admin/api-keys',
          401,
          'invalid',
          'auth.unknown_key',
          'key_AAAAAAAAAAAAAAAAAAAAAA',
        ],
        ['sec-expired', bearer(expired), '/admin/api-keys', 401, 'expired', 'auth.expired_token', admin.id],
        [
          'sec-audience',
          bearer(elsewhere),
          '/admin/api-keys',
          401,
          'invalid',
          'auth.wrong_audience',
          admin.id,
        ],
        [
          'sec-revoked',
          bearer(gone.token),
          '/admin/api-keys',
          401,
          'revoked',
          'auth.revoked_key',
          gone.key.id,
        ],
        [
          'sec-403',
          bearer(reader.token),
          '/admin/api-keys',
          403,
          'insufficient_scope',
          'auth.insufficient_scope',
          reader.id,
        ],
      ];
      const before = await authFailures();
      for (const [id, headers, path, status, reason] of cases) {
        const res = await api()
          .get(path)
          .set({ ...headers, 'x-request-id': id, 'user-agent': UA });
        expect(res.status).toBe(status);
        expect(res.body.reason).toBe(reason);
      }
      expect(delta(before, await authFailures())).toEqual({
        missing: 1,
        malformed: 2,
        invalid: 3,
        expired: 1,
        revoked: 1,
        insufficient_scope: 1,
      });

      for (const [id, , , status, reason, action, keyId] of cases) {
        const rows = await rowsFor(id);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          kind: 'auth',
          action,
          outcome: 'denied',
          status,
          error_code: reason,
          user_agent: UA,
          request_id: id,
          key_id: keyId,
          // The organisation only when a verified signature vouches for it.
          organization_id: keyId ? 'org-sec' : null,
        });
        expect(String(rows[0].ip)).toMatch(/127\.0\.0\.1/);
      }
    });

    it("a refused request's path is kept in part: a URL of 12,000 characters costs its row 200 of them", async () => {
      const path = `/admin/api-keys/${'a'.repeat(12_000)}`; // a route: the guard refuses it
      const res = await api().get(path).set({ 'x-request-id': 'sec-long-path', 'user-agent': UA });
      expect(res.status).toBe(401);
      const rows = await rowsFor('sec-long-path');
      expect(rows).toHaveLength(1);
      const stored = JSON.parse(String(rows[0].args)) as { method: string; path: string };
      expect(stored.method).toBe('GET');
      expect(stored.path).toBe(`${path.slice(0, 200)}...`);
      const line = (await logs.lines()).find(
        (l) => l.requestId === 'sec-long-path' && l.event === 'auth.refused',
      );
      expect(line?.path).toBe(`${path.slice(0, 200)}...`);
    });

    it('a flood of bad tokens is answered 401 every time and counted exactly; its audit rows are bounded', async () => {
      const before = await authFailures();
      const header = decodeHeader(admin.token);
      const claims = decodePayload(admin.token);
      const flood = Array.from({ length: 60 }, (_, i) =>
        forge(header, { ...claims, n: i }, `flood-${i}`.padEnd(40, 'x')),
      );
      tokens.push(...flood);
      const answers = await Promise.all(
        flood.map((t, i) =>
          api()
            .get('/admin/api-keys')
            .set({ ...bearer(t), 'x-request-id': `sec-flood-${i}` }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(flood.map(() => 401));
      expect(delta(before, await authFailures())).toEqual({ invalid: 60 });
      await writer.flush();
      const [{ n }] = await ds.query(
        `SELECT COUNT(*) AS n FROM audit_logs WHERE request_id LIKE 'sec-flood-%'`,
      );
      // At most 20 per source and code in a window (two windows if one ended during the flood).
      expect(Number(n)).toBeGreaterThan(0);
      expect(Number(n)).toBeLessThanOrEqual(40);
    });
  });

  it('no token appears in any audit row or log line of the run', async () => {
    await writer.flush();
    const rows = JSON.stringify(await ds.query('SELECT * FROM audit_logs'));
    const text = await logs.text();
    expect(text).toContain('Security event'); // the capture did see the refusals
    for (const token of tokens) {
      const signature = token.split('.')[2];
      for (const haystack of [rows, text]) {
        expect(haystack).not.toContain(token);
        expect(haystack).not.toContain(signature);
      }
    }
  });
});
