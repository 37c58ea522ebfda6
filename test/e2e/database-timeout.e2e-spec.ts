/**
 * A database that holds statements (here: another session's lock on two
 * tables) under the whole app on PostgreSQL with
 * DATABASE_STATEMENT_TIMEOUT_MS=300: the admin and credentials calls that
 * need those tables answer 503 `database_unavailable` with Retry-After
 * instead of hanging or answering a bare 500; nothing internal (SQL, table
 * names, driver text) reaches the caller; each failed call is audited once
 * with the status it got; the change they asked for did not happen; calls
 * that do not need the locked tables keep working; once the lock goes, the
 * same calls succeed again. And with the
 * database gone altogether (a proxy cut), the same 503 (also for a streaming
 * export, which reads its first page before it answers), audited through
 * the spool.
 */
import { Client } from 'pg';
import request from 'supertest';
import { AuditWriter } from '../../src/audit/audit.writer';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { registerSecret } from '../support/capture';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey, registerToken } from './auth-helpers';

jest.setTimeout(30_000);

const OPENAI = { apiKey: 'sk-db-timeout-e2e-0001' };
registerSecret(OPENAI.apiKey, 'database-timeout plaintext');

interface AuditRow {
  action: string;
  status: number;
  outcome: string;
  error_code: string | null;
}

/** A 503 database_unavailable with Retry-After, naming nothing internal (SQL, tables, driver, address). */
function expectDatabaseUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('5');
  expect(res.body).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    code: 'database_unavailable',
    message: 'The database is unavailable or did not answer in time; retry shortly',
  });
  expect(res.text).not.toMatch(
    /statement|timeout|lock|api_keys|credentials"|canceling|SELECT|INSERT|ECONNREFUSED|127\.0\.0\.1|terminated|postgres/i,
  );
}

/** The audit rows of one call answered 503 database_unavailable: exactly one. */
const refusedOnce = (action: string): AuditRow[] => [
  { action, status: 503, outcome: 'server_error', error_code: 'database_unavailable' },
];

describeWithPostgres('a database that holds statements or goes away (PostgreSQL)', () => {
  const schema = uniqueName('db_timeout');
  let started: StartedApp;
  let pg: Client;
  let admin: string;

  const api = () => request(started.url);
  const as = (requestId: string) => ({ ...bearer(admin), 'x-request-id': requestId });
  const rowsFor = async (requestId: string): Promise<AuditRow[]> => {
    await started.app.get(AuditWriter).flush();
    return (
      await pg.query(
        `SELECT action, status, outcome, error_code FROM "${schema}".audit_logs WHERE request_id = $1`,
        [requestId],
      )
    ).rows;
  };

  beforeAll(async () => {
    started = await startApp({
      ...AUTH_ENV,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      DATABASE_STATEMENT_TIMEOUT_MS: '300',
    });
    admin = (await issueKey(started, 'org-t', ['admin'])).token;
    pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
  });

  afterAll(async () => {
    await started?.close();
    if (pg) {
      await pg.query('ROLLBACK').catch(() => undefined);
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pg.end();
    }
  });

  it('answers 503 database_unavailable while a lock holds the tables, and serves again once it goes', async () => {
    // The key is known (cached) before the lock, so the guard admits it without reading api_keys.
    expect((await api().get('/admin/api-keys?limit=1').set(bearer(admin))).status).toBe(200);
    const put = await api().put('/credentials/openai').set(bearer(admin)).send(OPENAI);
    expect(put.status).toBe(201);

    await pg.query('BEGIN');
    await pg.query(
      `LOCK TABLE "${schema}".api_keys, "${schema}".encrypted_credentials IN ACCESS EXCLUSIVE MODE`,
    );
    let list, create, audit, health;
    try {
      list = await api().get('/credentials').set(as('dbt-list'));
      create = await api()
        .post('/admin/api-keys')
        .set(as('dbt-create'))
        .send({ name: 'doomed', permissions: ['xero:read'] });
      // Not behind the lock: the audit trail and the probes still answer.
      audit = await api().get('/admin/audit?limit=1').set(as('dbt-audit'));
      health = await api().get('/health');
    } finally {
      await pg.query('ROLLBACK');
    }

    for (const res of [list, create]) expectDatabaseUnavailable(res);
    expect(audit.status).toBe(200);
    expect(health.status).toBe(200);

    expect(await rowsFor('dbt-list')).toEqual(refusedOnce('GET /credentials'));
    expect(await rowsFor('dbt-create')).toEqual(refusedOnce('POST /admin/api-keys'));

    // The lock is gone: the same calls work, and the refused create left no key behind.
    const again = await api().get('/credentials').set(bearer(admin));
    expect(again.status).toBe(200);
    expect(JSON.stringify(again.body)).toContain('openai');
    const keys = await api().get('/admin/api-keys?limit=100').set(bearer(admin));
    expect(keys.status).toBe(200);
    expect(keys.body.items.map((k: { name: string }) => k.name)).not.toContain('doomed');
    const created = await api()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'after', permissions: ['xero:read'] });
    expect(created.status).toBe(201);
    registerToken(created.body.token, 'database-timeout');
  });

  it('answers 503 database_unavailable while the database is unreachable, audited once it is back', async () => {
    const proxy = await TcpProxy.to(TEST_DATABASE_URL);
    const cut = await startApp({
      ...AUTH_ENV,
      DATABASE_URL: proxy.urlFor(TEST_DATABASE_URL),
      DATABASE_SCHEMA: schema,
    });
    try {
      const token = (await issueKey(cut, 'org-t', ['admin'], 'cut admin')).token;
      expect((await request(cut.url).get('/credentials').set(bearer(token))).status).toBe(200);
      await proxy.cut();
      const res = await request(cut.url)
        .get('/credentials')
        .set({ ...bearer(token), 'x-request-id': 'dbt-unreachable' });
      expectDatabaseUnavailable(res);
      // A streaming export reads its first page before it answers: a clean 503, not a 200 cut short.
      const exported = await request(cut.url)
        .get('/admin/audit/export?format=ndjson')
        .set({ ...bearer(token), 'x-request-id': 'dbt-export' });
      expectDatabaseUnavailable(exported);

      await proxy.restore();
      expect(await cut.app.get(AuditWriter).replayNow()).toBe(true);
      expect(await rowsFor('dbt-unreachable')).toEqual(refusedOnce('GET /credentials'));
      expect(await rowsFor('dbt-export')).toEqual(refusedOnce('GET /admin/audit/export'));
      expect((await request(cut.url).get('/credentials').set(bearer(token))).status).toBe(200);
    } finally {
      await cut.close();
      await proxy.cut();
    }
  });
});
