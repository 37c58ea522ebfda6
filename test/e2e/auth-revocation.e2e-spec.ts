jest.setTimeout(30_000);

import request from 'supertest';
import { Client } from 'pg';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { RevocationService } from '../../src/auth/revocation.service';
import { main } from '../../src/cli/main';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, forge, issueKey, nowSeconds, systemActor, waitFor } from './auth-helpers';

const silentIo = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err };
};

const status = (s: StartedApp, token: string) =>
  request(s.url)
    .get('/admin/api-keys?limit=1')
    .set(bearer(token))
    .then((r) => r.status);

describeWithPostgres('revocation across two instances sharing PostgreSQL and Redis', () => {
  const schema = uniqueName('auth_rev');
  const env = { ...AUTH_ENV, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
  let a: StartedApp;
  let b: StartedApp;

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.end();
  });

  describeWithRedis('with Redis pub/sub', () => {
    beforeAll(async () => {
      a = await startApp({ ...env, REDIS_URL: TEST_REDIS_URL });
      b = await startApp({ ...env, REDIS_URL: TEST_REDIS_URL });
    });

    it('a key revoked on A is refused by B within 1 s', async () => {
      const latencies: number[] = [];
      const admin = await issueKey(a, 'org-r', ['admin']);
      for (let i = 0; i < 5; i++) {
        const victim = await issueKey(a, 'org-r', ['keys:admin'], `victim ${i}`);
        expect(await status(b, victim.token)).toBe(200); // B knows the key and admits it
        const revoked = await request(a.url)
          .post(`/admin/api-keys/${victim.key.id}/revoke`)
          .set(bearer(admin.token))
          .send({ reason: 'e2e' });
        expect(revoked.status).toBe(200);
        const start = performance.now();
        const elapsed = await waitFor(async () => (await status(b, victim.token)) === 401, 5000, 5);
        expect(elapsed).toBeDefined();
        latencies.push(performance.now() - start);
      }
      console.log(`revocation A→B observed after ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
      // The issue's target: refused by another instance within 1 s.
      expect(Math.max(...latencies)).toBeLessThan(1000);
    });
  });

  describe('with Redis unreachable on B (database polling)', () => {
    let c: StartedApp;
    afterAll(async () => {
      await c?.close();
    });

    it('B still learns the revocation from the database within the poll interval', async () => {
      a ??= await startApp({ ...env, REDIS_URL: TEST_REDIS_URL });
      c = await startApp({ ...env, REDIS_URL: 'redis://127.0.0.1:1' });
      const victim = await issueKey(a, 'org-r', ['keys:admin'], 'polled victim');
      expect(await status(c, victim.token)).toBe(200);
      await a.app.get(ApiKeysService).revoke(systemActor('org-r'), victim.key.id, 'e2e');
      const elapsed = await waitFor(async () => (await status(c, victim.token)) === 401, 8000, 50);
      expect(elapsed).toBeDefined();
      expect(c.app.get(RevocationService).status().fresh).toBe(true);
    });
  });
});

describe('revocation in the embedded shape (SQLite + memory store)', () => {
  let s: StartedApp;
  afterEach(async () => {
    await s?.close();
  });

  it('a revocation made by the command line (another process) reaches the server by polling', async () => {
    s = await startApp(AUTH_ENV);
    const victim = await issueKey(s, 'org-e', ['keys:admin']);
    expect(await status(s, victim.token)).toBe(200);
    const cli = silentIo();
    const code = await main(
      ['keys', 'revoke', victim.key.id, '--org', 'org-e', '--reason', 'cli'],
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'error',
        DATA_DIR: s.config.dataDir,
        ...AUTH_ENV,
      },
      cli.io,
    );
    expect({ code, err: cli.err.join('') }).toMatchObject({ code: 0 });
    const elapsed = await waitFor(async () => (await status(s, victim.token)) === 401, 8000, 50);
    expect(elapsed).toBeDefined();
  });

  it('fails closed: while the revoked set cannot be loaded a well-signed key gets 503, never 200', async () => {
    // No migrations: the api_keys table does not exist, so nothing can be loaded.
    s = await startApp({ ...AUTH_ENV, RUN_MIGRATIONS: 'false' });
    const token = forge(
      { alg: 'HS256', typ: 'sentia-api-key+jwt', kid: 'k1' },
      {
        jti: 'key_x',
        sub: 'u',
        org: 'org-f',
        permissions: ['admin'],
        iss: 'sentia-mcp',
        aud: AUTH_ENV.PUBLIC_BASE_URL,
        iat: nowSeconds(),
      },
    );
    const res = await request(s.url).get('/admin/api-keys').set(bearer(token));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ statusCode: 503, reason: 'auth_unavailable' });
    expect(s.app.get(RevocationService).status()).toMatchObject({ loaded: false, fresh: false });

    // Once the schema exists (the operator runs migrate), keys made by the CLI work.
    const cliEnv = { NODE_ENV: 'test', LOG_LEVEL: 'error', DATA_DIR: s.config.dataDir, ...AUTH_ENV };
    expect(await main(['migrate'], cliEnv, silentIo().io)).toBe(0);
    const cli = silentIo();
    expect(
      await main(
        ['keys', 'create', '--org', 'org-f', '--name', 'first', '--permissions', 'admin'],
        cliEnv,
        cli.io,
      ),
    ).toBe(0);
    const real = cli.out.join('').trim();
    const elapsed = await waitFor(async () => (await status(s, real)) === 200, 8000, 100);
    expect(elapsed).toBeDefined();
  });
});
