/**
 * /credentials over HTTP on the whole app (SQLite + memory store), with real
 * API keys: permissions, organisation scoping, per-service validation, and a
 * final sweep proving that no secret sent during the run came back in any
 * response, log line (debug level), metric or audit row.
 */
import { WINSTON_MODULE_PROVIDER } from 'nest-winston';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Logger as WinstonLogger, transports } from 'winston';
import { CredentialsService } from '../../src/credentials/credentials.service';
import { LogCapture } from '../../src/observability/log-capture';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

const XERO = {
  clientId: 'XERO-CLIENT-ID-e2e',
  clientSecret: 'xero-client-secret-E2E-0001',
  refreshToken: 'xero-refresh-token-E2E-0002',
  tenantIds: ['9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a'],
};
const SHOPIFY = {
  shop: 'e2e-store.myshopify.com',
  accessToken: 'shpat_E2E_SECRET_0003',
  apiVersion: '2025-10',
};
const UNLEASHED = { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: 'unleashed-key-E2E-0004' };
const ANTHROPIC_USER = { apiKey: 'sk-ant-E2E-user-0005' };
const OPENAI_B = { apiKey: 'sk-openai-E2E-orgb-0006' };
const REJECTED = 'shpat_E2E_REJECTED_0007';
/** A key no HTTP header carries as typed: refused on PUT. */
const UNSENDABLE = 'sk-ant-€-E2E-UNSENDABLE-0008';
/** Sent in the transaction tests: it must end up neither stored (on rollback) nor anywhere in the clear. */
const TX_SECRET = 'sk-tx-0123456789abcdef';

/** Every secret value sent in this run; none may ever come back. */
const SECRETS = [
  XERO.clientSecret,
  XERO.refreshToken,
  SHOPIFY.accessToken,
  UNLEASHED.apiKey,
  ANTHROPIC_USER.apiKey,
  OPENAI_B.apiKey,
  REJECTED,
  UNSENDABLE,
  TX_SECRET,
];
// The whole-run sweep (test/sweep/) also looks for them in every app's logs and audit rows.
for (const secret of SECRETS) registerSecret(secret, 'credentials-rest plaintext');
const forms = (s: string) => [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')];

describe('REST /credentials (whole app, SQLite + memory store)', () => {
  let started: StartedApp;
  let adminA: string;
  let readerA: string;
  let writerA: string;
  let xeroOnlyA: string;
  let adminB: string;
  const responses: string[] = [];
  const logs = new LogCapture();

  /** A supertest call whose response (status line, headers, body) is kept for the final sweep. */
  const call = async (test: request.Test) => {
    const res = await test;
    responses.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text ?? ''}`);
    return res;
  };
  const api = () => request(started.url);

  beforeAll(async () => {
    started = await startApp({ ...AUTH_ENV, LOG_LEVEL: 'debug' });
    // Every log line from here on (debug level) goes to `logs` instead of stdout.
    const logger = started.app.get<WinstonLogger>(WINSTON_MODULE_PROVIDER);
    for (const t of logger.transports) if (t instanceof transports.Console) t.silent = true;
    logger.add(new transports.Stream({ stream: logs.stream }));
    adminA = (await issueKey(started, 'org-a', ['admin'], 'admin a')).token;
    readerA = (await issueKey(started, 'org-a', ['credentials:read'], 'reader a')).token;
    writerA = (await issueKey(started, 'org-a', ['credentials:write'], 'writer a')).token;
    xeroOnlyA = (await issueKey(started, 'org-a', ['xero:read'], 'xero a')).token;
    adminB = (await issueKey(started, 'org-b', ['admin'], 'admin b')).token;
  });

  afterAll(async () => {
    await started?.close();
  });

  it('PUT stores each service and answers with metadata only', async () => {
    for (const [service, body] of [
      ['xero', XERO],
      ['shopify', SHOPIFY],
      ['unleashed', UNLEASHED],
    ] as const) {
      const res = await call(api().put(`/credentials/${service}`).set(bearer(writerA)).send(body));
      expect(res.status).toBe(201); // created: none was stored there
      expect(res.body).toEqual({
        service,
        userId: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        keyId: 'mk1',
        fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
      });
    }
    const mine = await call(
      api().put('/credentials/anthropic?userId=u-7').set(bearer(adminA)).send(ANTHROPIC_USER),
    );
    expect(mine.status).toBe(201);
    expect(mine.body.userId).toBe('u-7');
    const b = await call(api().put('/credentials/openai').set(bearer(adminB)).send(OPENAI_B));
    expect(b.status).toBe(201);
    // The same place again: replaced, 200, the same record (created then, updated now).
    const again = await call(api().put('/credentials/openai').set(bearer(adminB)).send(OPENAI_B));
    expect(again.status).toBe(200);
    expect(again.body.createdAt).toBe(b.body.createdAt);
  });

  it('connectors read back exactly what was stored, per organisation and user', async () => {
    const vault = started.app.get(CredentialsService);
    expect(await vault.getDecrypted('org-a', 'xero')).toEqual({ grantType: 'authorization_code', ...XERO });
    expect(await vault.getDecrypted('org-a', 'shopify')).toEqual(SHOPIFY);
    expect(await vault.getDecrypted('org-a', 'anthropic', 'u-7')).toEqual(ANTHROPIC_USER);
    expect(await vault.getDecrypted('org-b', 'openai')).toEqual(OPENAI_B);
    await expect(vault.getDecrypted('org-b', 'xero')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('GET lists and shows metadata of the caller organisation only', async () => {
    const list = await call(api().get('/credentials').set(bearer(readerA)));
    expect(list.status).toBe(200);
    expect(
      list.body.items.map((m: { service: string; userId: string | null }) => [m.service, m.userId]),
    ).toEqual([
      ['anthropic', 'u-7'],
      ['shopify', null],
      ['unleashed', null],
      ['xero', null],
    ]);
    const one = await call(api().get('/credentials/xero').set(bearer(readerA)));
    expect(one.status).toBe(200);
    expect(one.body).toEqual(list.body.items[3]);
    expect((await call(api().get('/credentials/anthropic?userId=u-7').set(bearer(readerA)))).status).toBe(
      200,
    );
    expect((await call(api().get('/credentials/anthropic').set(bearer(readerA)))).status).toBe(404);

    const listB = await call(api().get('/credentials').set(bearer(adminB)));
    expect(listB.body.items.map((m: { service: string }) => m.service)).toEqual(['openai']);
  });

  /** The one audit row of the request sent with `x-request-id: id`. */
  const auditRowOf = async (id: string) => {
    const rows: Array<Record<string, unknown>> = await started.app
      .get(DataSource)
      .query(`SELECT kind, action, outcome, status, error_code FROM audit_logs WHERE request_id = ?`, [id]);
    expect(rows).toHaveLength(1);
    return rows[0];
  };

  it("another organisation's data is invisible and untouchable", async () => {
    const get = await call(
      api().get('/credentials/xero').set(bearer(adminB)).set('x-request-id', 'cred-e2e-404'),
    );
    expect(get.status).toBe(404);
    expect(get.body).toMatchObject({ code: 'not_found' });
    // The audit trail shows the answer the caller got: a client error, not a server fault.
    expect(await auditRowOf('cred-e2e-404')).toMatchObject({
      kind: 'admin',
      action: 'GET /credentials/:service',
      outcome: 'client_error',
      status: 404,
      error_code: 'not_found',
    });
    expect((await call(api().delete('/credentials/xero').set(bearer(adminB)))).status).toBe(404);
    expect((await call(api().get('/credentials/openai').set(bearer(adminA)))).status).toBe(404);
    expect((await call(api().get('/credentials/xero').set(bearer(readerA)))).status).toBe(200);
  });

  it('a credential write and its audit record commit together: one row naming the change, never the value', async () => {
    const put = await call(
      api()
        .put('/credentials/openai?userId=u-tx')
        .set(bearer(writerA))
        .set('x-request-id', 'cred-e2e-tx-put')
        .send({ apiKey: TX_SECRET }),
    );
    expect(put.status).toBe(201);
    expect(await auditRowOf('cred-e2e-tx-put')).toMatchObject({
      kind: 'admin',
      action: 'credential.put',
      outcome: 'success',
    });
    const del = await call(
      api()
        .delete('/credentials/openai?userId=u-tx')
        .set(bearer(writerA))
        .set('x-request-id', 'cred-e2e-tx-delete'),
    );
    expect(del.status).toBe(204);
    expect(await auditRowOf('cred-e2e-tx-delete')).toMatchObject({
      action: 'credential.delete',
      outcome: 'success',
    });
    // Each change is also a log line (a copy of the trail outside the database), naming the credential only.
    const changes = (await logs.lines()).filter(
      (l) => l.requestId === 'cred-e2e-tx-put' || l.requestId === 'cred-e2e-tx-delete',
    );
    expect(changes.filter((l) => l.context === 'CredentialsService')).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'Credential stored',
        service: 'openai',
        credentialUserId: 'u-tx',
        organizationId: 'org-a',
      }),
      expect.objectContaining({ level: 'info', message: 'Credential deleted', service: 'openai' }),
    ]);

    // The record cannot be written: the change is rolled back with it, and the failed call is recorded.
    const ds = started.app.get(DataSource);
    await ds.query(
      `CREATE TRIGGER refuse_credential_record BEFORE INSERT ON audit_logs WHEN NEW.action = 'credential.put'
       BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
    try {
      const refused = await call(
        api()
          .put('/credentials/openai?userId=u-tx')
          .set(bearer(writerA))
          .set('x-request-id', 'cred-e2e-tx-refused')
          .send({ apiKey: TX_SECRET }),
      );
      expect(refused.status).toBeGreaterThanOrEqual(500);
      expect(await auditRowOf('cred-e2e-tx-refused')).toMatchObject({
        action: 'PUT /credentials/:service',
        outcome: 'server_error',
      });
    } finally {
      await ds.query('DROP TRIGGER refuse_credential_record');
    }
    expect((await call(api().get('/credentials/openai?userId=u-tx').set(bearer(readerA)))).status).toBe(404);
  });

  it('needs the right permission: 401 without a key, 403 naming the permission', async () => {
    expect((await call(api().get('/credentials'))).status).toBe(401);
    expect((await call(api().put('/credentials/openai').send({ apiKey: 'x' }))).status).toBe(401);
    const cases = [
      [
        api().put('/credentials/openai').set(bearer(readerA)).send({ apiKey: 'sk-denied' }),
        'credentials:write',
      ],
      [api().delete('/credentials/xero').set(bearer(readerA)), 'credentials:write'],
      [api().get('/credentials').set(bearer(writerA)), 'credentials:read'],
      [api().get('/credentials/xero').set(bearer(xeroOnlyA)), 'credentials:read'],
    ] as const;
    for (const [test, permission] of cases) {
      const res = await call(test);
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body) + JSON.stringify(res.headers)).toContain(permission);
    }
    expect((await call(api().get('/credentials/xero').set(bearer(readerA)))).status).toBe(200);
  });

  it('404 for an unknown service names it and the allowed list, as the connector check does', async () => {
    const res = await call(
      api()
        .put('/credentials/github')
        .set(bearer(writerA))
        .set('x-request-id', 'cred-e2e-unknown')
        .send({ apiKey: 'x' }),
    );
    expect(res.status).toBe(404);
    expect(await auditRowOf('cred-e2e-unknown')).toMatchObject({
      outcome: 'client_error',
      status: 404,
      error_code: 'unknown_service',
    });
    expect(res.body).toMatchObject({
      statusCode: 404,
      code: 'unknown_service',
      message: 'unknown service "github": must be one of xero, shopify, unleashed, anthropic, openai',
    });
    const read = await call(api().get('/credentials/github').set(bearer(readerA)));
    expect([read.status, read.body.code]).toEqual([404, 'unknown_service']);
  });

  it('400 for an invalid body names each field, never echoing a value', async () => {
    const res = await call(
      api()
        .put('/credentials/shopify')
        .set(bearer(writerA))
        .send({ shop: 'shop.example.com', accessToken: REJECTED, apiVersion: '2025-02', note: REJECTED }),
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_credentials');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['shop', 'apiVersion', 'note']);
    for (const field of ['shop', 'apiVersion', 'note']) expect(res.body.message).toContain(field);

    const xero = await call(
      api().put('/credentials/xero').set(bearer(writerA)).send({ clientId: 'x', tenantIds: 'all' }),
    );
    expect(xero.body.errors.map((e: { field: string }) => e.field)).toEqual(['clientSecret', 'tenantIds']);
    const custom = await call(
      api()
        .put('/credentials/xero')
        .set(bearer(writerA))
        .send({ grantType: 'client_credentials', clientId: 'x', clientSecret: 'y', refreshToken: 'z' }),
    );
    expect(custom.body.errors).toEqual([{ field: 'refreshToken', message: 'is not a known field' }]);
    const empty = await call(api().put('/credentials/openai').set(bearer(writerA)));
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    const badUser = await call(
      api().put('/credentials/openai?userId=').set(bearer(writerA)).send({ apiKey: 'x' }),
    );
    expect(badUser.body.code).toBe('invalid_user_id');
    // A key no HTTP header can carry as typed (fetch refuses the "€"): refused now, not stored to fail every call.
    const unsendable = await call(
      api().put('/credentials/anthropic').set(bearer(writerA)).send({ apiKey: UNSENDABLE }),
    );
    expect(unsendable.status).toBe(400);
    expect(unsendable.body.errors).toEqual([
      {
        field: 'apiKey',
        message: expect.stringMatching(/^must be printable ASCII, as an HTTP header carries it/),
      },
    ]);
    // Nothing was stored by any refused request.
    expect((await call(api().get('/credentials').set(bearer(readerA)))).body.items).toHaveLength(4);
  });

  it('400 for a query parameter a route does not take, or userId twice: a misspelling changes nothing', async () => {
    const put = await call(
      api()
        .put('/credentials/xero?userid=bob')
        .set(bearer(writerA))
        .send({ ...XERO, clientId: 'REPLACED' }),
    );
    expect(put.status).toBe(400);
    expect(put.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'invalid_query',
      field: 'userid',
      message: 'userid: is not a known query parameter (the only one is userId)',
      errors: [{ field: 'userid', message: 'is not a known query parameter (the only one is userId)' }],
    });
    const del = await call(api().delete('/credentials/xero?user=bob').set(bearer(writerA)));
    expect(del.status).toBe(400);
    expect(del.body.errors).toEqual([
      { field: 'user', message: 'is not a known query parameter (the only one is userId)' },
    ]);
    // The organisation's credential is neither replaced nor removed.
    expect(await started.app.get(CredentialsService).getDecrypted('org-a', 'xero')).toMatchObject(XERO);

    const twice = await call(api().get('/credentials/anthropic?userId=u-7&userId=u-8').set(bearer(readerA)));
    expect(twice.status).toBe(400);
    expect(twice.body.errors).toEqual([{ field: 'userId', message: 'must be given once' }]);
    const list = await call(api().get('/credentials?userId=u-7').set(bearer(readerA)));
    expect(list.status).toBe(400);
    expect(list.body.message).toBe('userId: is not a known query parameter (this route takes none)');
    for (const bad of ['%00', 'a%20b', 'a%2Fb', 'x'.repeat(65)]) {
      const res = await call(api().get(`/credentials/anthropic?userId=${bad}`).set(bearer(readerA)));
      expect([bad, res.status, res.body.code]).toEqual([bad, 400, 'invalid_user_id']);
    }
    expect((await call(api().get('/credentials/anthropic?userId=u-7').set(bearer(readerA)))).status).toBe(
      200,
    );
  });

  it('400 for a body nested past the depth limit, before anything walks it; the server keeps serving', async () => {
    // 100,000 levels (600 KB, under the 1 MB limit) would overflow any recursive walk of the body.
    const deep = '{"apiKey":'.repeat(1) + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_001);
    const res = await call(
      api()
        .put('/credentials/anthropic')
        .set(bearer(writerA))
        .set('content-type', 'application/json')
        .send(deep),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'too_deep',
      message: 'Request body nests arrays or objects more than 64 levels deep',
    });
    expect((await call(api().get('/credentials/anthropic').set(bearer(readerA)))).status).toBe(404);
  });

  it('DELETE removes a credential (204), then 404', async () => {
    expect((await call(api().delete('/credentials/unleashed').set(bearer(writerA)))).status).toBe(204);
    expect((await call(api().get('/credentials/unleashed').set(bearer(readerA)))).status).toBe(404);
    expect((await call(api().delete('/credentials/unleashed').set(bearer(writerA)))).status).toBe(404);
    await expect(
      started.app.get(CredentialsService).getDecrypted('org-a', 'unleashed'),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('is described in the OpenAPI document', async () => {
    const res = await call(api().get('/docs/openapi.json'));
    expect(res.status).toBe(200);
    const paths = res.body.paths;
    expect(Object.keys(paths['/credentials/{service}']).sort()).toEqual(['delete', 'get', 'put']);
    expect(paths['/credentials'].get).toBeDefined();
    expect(
      paths['/credentials/{service}'].put.requestBody.content['application/json'].schema.oneOf,
    ).toHaveLength(5);
  });

  it('no secret sent during the run appears in any response, log line, metric or audit row', async () => {
    responses.push((await call(api().get('/metrics').set(bearer(adminA)))).text ?? '');
    const ds = started.app.get(DataSource);
    const auditRows: unknown[] = await ds.query('SELECT * FROM audit_logs');
    const audit = JSON.stringify(auditRows);
    const logText = await logs.text();
    expect(responses.length).toBeGreaterThan(30);
    expect(logText).toContain('/credentials'); // the run's log lines were captured
    const haystacks = { responses: responses.join('\n'), logs: logText, audit };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of SECRETS) {
        for (const form of forms(secret)) {
          if (text.includes(form)) throw new Error(`a secret appeared in ${where}`);
        }
      }
    }
  });
});
