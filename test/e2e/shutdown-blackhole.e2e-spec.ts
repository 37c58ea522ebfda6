/**
 * SIGTERM while PostgreSQL swallows packets (a partition without resets):
 * the built server still exits 0 within SHUTDOWN_GRACE_MS, not after each
 * shutdown step has waited out its own database timeout (10-15 s before the
 * ShutdownClock, whatever the grace), so an orchestrator's SIGKILL at its
 * own grace does not cut the audit flush. Nothing is lost for it: a call
 * whose audit INSERT is lost in the partition when the signal comes is
 * answered once its record is in the spool, within what the stop leaves it,
 * and every call is in `audit_logs` exactly once after a restart on a
 * reachable database (its boot replays the spool, or ships the journal).
 * Likewise with Redis swallowing packets while sessions are open (each of its
 * closing steps waited its command timeout, 8 s in all with a 4 s grace).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { main } from '../../src/cli/main';
import {
  describeWithPostgres,
  describeWithPostgresAndRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { initializeRequest, modernToolCallInit } from '../support/mcp-messages';
import { freePort, spawnServer, SpawnedServer, waitForOk } from '../support/spawn-server';
import { TcpProxy } from '../support/tcp-proxy';
import { registerToken, waitFor } from './auth-helpers';

jest.setTimeout(120_000);

const GRACE_MS = 4_000;
/** Timers firing late on a busy machine; still far below the 10 s and more the stop took before. */
const LATENESS_MS = 2_500;
const CALLS = 4;

/** The built server's settings for these tests: on `port`, quiet, with the short grace. */
const serverEnv = (port: number, dataDir: string): Record<string, string> => ({
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PORT: String(port),
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  DATA_DIR: dataDir,
  SHUTDOWN_GRACE_MS: String(GRACE_MS),
});

describeWithPostgres('SIGTERM while the database swallows packets (PostgreSQL)', () => {
  let pg: Client;
  let proxy: TcpProxy;
  let dataDir: string;
  let schema: string;
  const servers: SpawnedServer[] = [];

  beforeAll(async () => {
    pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
  });

  beforeEach(async () => {
    schema = uniqueName('shutdown_bh');
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-stop-'));
    proxy = await TcpProxy.to(TEST_DATABASE_URL);
  });

  afterEach(async () => {
    for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await proxy.cut();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await pg?.end();
  });

  it.each(['database', 'journal'])(
    'exits 0 within SHUTDOWN_GRACE_MS, and every answered call is audited once after a restart (AUDIT_DURABILITY=%s)',
    async (durability) => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const env = { ...serverEnv(port, dataDir), DATABASE_SCHEMA: schema, AUDIT_DURABILITY: durability };
      const viaProxy = { ...env, DATABASE_URL: proxy.urlFor(TEST_DATABASE_URL) };
      const direct = { ...env, DATABASE_URL: TEST_DATABASE_URL };
      let token = '';
      const created = await main(
        ['keys', 'create', '--org', 'o', '--name', 'stop', '--permissions', 'ai:invoke'],
        direct,
        { out: (t) => void (token += t.trim()), err: () => undefined },
      );
      expect(created).toBe(0);
      registerToken(token, 'shutdown black hole');
      const prefix = `${schema}-call`;
      const call = (n: number) =>
        fetch(
          `${base}/mcp`,
          modernToolCallInit(token, { id: n, requestId: `${prefix}-${n}`, clientName: 'stop' }),
        );

      const first = spawnServer(viaProxy);
      servers.push(first);
      await waitForOk(`${base}/health/ready`, 60_000, () => first.child.exitCode === null);
      for (let n = 1; n < CALLS; n++) expect((await call(n)).status).toBe(200);
      proxy.blackhole();
      // The last call's audit write (database durability) is in flight, into the black hole, at the SIGTERM.
      const last = call(CALLS).then(
        (res) => res.status,
        () => 'no answer',
      );
      await new Promise((r) => setTimeout(r, 300));
      const signalled = performance.now();
      const code = await first.stop(60_000);
      const tookMs = performance.now() - signalled;
      // Its record reached the spool within what the stop left it, so it was answered (journal: at once).
      expect(await last).toBe(200);
      expect({ code, output: code === 0 ? '' : first.output() }).toEqual({ code: 0, output: '' });
      expect(tookMs).toBeLessThan(GRACE_MS + LATENESS_MS);

      // A restart on a database it reaches writes what the stop left on the local disk.
      const second = spawnServer(direct);
      servers.push(second);
      await waitForOk(`${base}/health/ready`, 60_000, () => second.child.exitCode === null);
      const audited = async () =>
        (
          await pg.query<{ request_id: string; n: string }>(
            `SELECT request_id, COUNT(*) AS n FROM "${schema}".audit_logs
             WHERE kind = 'tool_call' AND request_id LIKE $1 GROUP BY request_id ORDER BY request_id`,
            [`${prefix}-%`],
          )
        ).rows.map((r) => `${r.request_id} x${r.n}`);
      const everyCall = Array.from({ length: CALLS }, (_, i) => `${prefix}-${i + 1} x1`);
      await waitFor(async () => (await audited()).length === CALLS, 30_000, 100);
      expect(await second.stop()).toBe(0);
      expect(await audited()).toEqual(everyCall);
    },
  );
});

describeWithPostgresAndRedis('SIGTERM while Redis swallows packets (PostgreSQL, Redis)', () => {
  it('exits 0 within SHUTDOWN_GRACE_MS with sessions open', async () => {
    const schema = uniqueName('shutdown_rbh');
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-stop-'));
    const redis = await TcpProxy.to(TEST_REDIS_URL);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      ...serverEnv(port, dataDir),
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_KEY_PREFIX: `${schema}:`,
    };
    const server = spawnServer({ ...env, REDIS_URL: redis.urlFor(TEST_REDIS_URL) });
    try {
      let token = '';
      await waitForOk(`${base}/health/ready`, 60_000, () => server.child.exitCode === null);
      const created = await main(
        ['keys', 'create', '--org', 'o', '--name', 'stop', '--permissions', 'ai:invoke'],
        { ...env, REDIS_URL: TEST_REDIS_URL },
        { out: (t) => void (token += t.trim()), err: () => undefined },
      );
      expect(created).toBe(0);
      registerToken(token, 'shutdown black hole (Redis)');
      for (let i = 0; i < 3; i++) {
        const opened = await fetch(`${base}/mcp`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${token}`,
          },
          body: JSON.stringify(initializeRequest('2025-11-25', 'stop')),
        });
        expect(opened.status).toBe(200);
        await opened.text();
      }
      redis.blackhole();
      const signalled = performance.now();
      const code = await server.stop(60_000);
      const tookMs = performance.now() - signalled;
      expect({ code, output: code === 0 ? '' : server.output() }).toEqual({ code: 0, output: '' });
      expect(tookMs).toBeLessThan(GRACE_MS + LATENESS_MS);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await redis.cut();
      const pg = new Client({ connectionString: TEST_DATABASE_URL });
      await pg.connect();
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pg.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
