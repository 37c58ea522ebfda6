/**
 * The built server as an operator starts it (`node dist/src/main.js`, what
 * `npm start` runs): with no settings it serves in the embedded shape; in
 * production without secrets it refuses to start and names every missing
 * variable; with a database it cannot reach it exits 1 after its retries,
 * every line JSON; SIGTERM stops it cleanly.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { freePort, SERVER_MAIN, spawnServer, waitForOk } from '../support/spawn-server';
import { registerToken } from './auth-helpers';
import { initializeRequest } from '../support/mcp-messages';
import { REQUIRED_IN_PRODUCTION } from '../support/test-config';

// Each test spawns a server: a boot takes a few seconds on a busy machine, and a refused database is
// retried 3 times, 2 s apart, before the process gives up.
jest.setTimeout(60_000);

describe('the built server (npm start)', () => {
  beforeAll(() => {
    if (!existsSync(SERVER_MAIN))
      throw new Error(`${SERVER_MAIN} is missing: run "npm run build" (npm test does it first)`);
  });

  it('refuses to start in production without secrets, naming each missing variable in one message', async () => {
    const { exited, output } = spawnServer({ NODE_ENV: 'production' });
    expect(await exited).toBe(1);
    const text = output();
    for (const name of REQUIRED_IN_PRODUCTION) expect(text).toContain(name);
    expect(text).toMatch(/Invalid configuration \(5 problems\)/);
    expect(text).not.toMatch(/\n\s+at /); // no stack trace
    // One JSON line, like the rest of the server's output.
    expect(JSON.parse(text.trim())).toMatchObject({ level: 'error', context: 'Bootstrap' });
  });

  it('refuses a DATA_DIR that is a file with one JSON line naming it (not a stack trace from mkdir)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const aFile = join(dir, 'not-a-dir');
    writeFileSync(aFile, '');
    try {
      const { exited, output } = spawnServer({ DATA_DIR: aFile, PORT: String(await freePort()) });
      expect(await exited).toBe(1);
      expect(JSON.parse(output().trim())).toEqual({
        timestamp: expect.any(String),
        level: 'error',
        context: 'Bootstrap',
        message: `Invalid configuration (1 problem):\n  - DATA_DIR: ${aFile} exists and is not a directory`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with PORT=0 names the port it took, and warns that keys name port 0 unless PUBLIC_BASE_URL is set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const server = spawnServer({ DATA_DIR: dataDir, PORT: '0' });
    try {
      let port: number | undefined;
      const deadline = Date.now() + 20_000;
      while (port === undefined && Date.now() < deadline && server.child.exitCode === null) {
        port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())?.[1]) || undefined;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(port).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      expect(server.output()).toContain(
        `PORT=0 took the free port ${port}, but API keys are bound to PUBLIC_BASE_URL`,
      );
      expect(await server.stop()).toBe(0);
    } finally {
      await server.stop(1_000);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('exits 1 when the database refuses connections: JSON lines naming the failure, never the password', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const closed = await freePort();
    const password = 'boot-db-password-0001';
    try {
      const { exited, output } = spawnServer({
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        DATABASE_URL: `postgres://sentia:${password}@127.0.0.1:${closed}/x`,
      });
      expect(await exited).toBe(1);
      const text = output();
      expect(text).not.toContain(password);
      expect(text).not.toContain('\u001b['); // no colour codes: log collectors get plain JSON
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      const parsed = lines.map((l) => {
        try {
          return JSON.parse(l) as { level?: string; context?: string; message?: string };
        } catch {
          throw new Error(`not a JSON log line: ${l}`);
        }
      });
      // Each line is written when it happens (not buffered until the end): the retries are 2 s apart.
      const retries = parsed.filter((l) => /^Database unavailable \(attempt \d of 3/.test(String(l.message)));
      // Two retries announced (attempts 1 and 2 failed), then one line giving up: no "Retrying (3)" that never comes.
      expect(retries.map((l) => [l.level, l.context])).toEqual([
        ['warn', 'Database'],
        ['warn', 'Database'],
      ]);
      expect(retries[0].message).toBe(
        `Database unavailable (attempt 1 of 3: connect ECONNREFUSED 127.0.0.1:${closed}); retrying in 2 s`,
      );
      const at = retries.map((l) => Date.parse(String((l as { timestamp?: string }).timestamp)));
      expect(at[1] - at[0]).toBeGreaterThan(1_500);
      expect(text).not.toContain('\\n    at '); // no stack traces at the default level
      expect(parsed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            level: 'error',
            context: 'Database',
            message: `Database unavailable after 3 attempts (connect ECONNREFUSED 127.0.0.1:${closed}); giving up`,
          }),
          {
            timestamp: expect.any(String),
            level: 'error',
            context: 'Bootstrap',
            message: `Sentia MCP failed to start: connect ECONNREFUSED 127.0.0.1:${closed}`,
          },
        ]),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('serves /health, /health/ready and /mcp with no settings, then stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = spawnServer({ DATA_DIR: dataDir, PORT: String(port), MCP_SESSION_TTL_SECONDS: '60' });
    try {
      await waitForOk(`${base}/health`, 20_000, () => server.child.exitCode === null);
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
      const init = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(initializeRequest('2025-11-25', 'boot')),
      });
      // No key: MCP answers with the challenge that points clients at the resource metadata.
      expect(init.status).toBe(401);
      expect(init.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata=/);
      await init.text();
      expect(existsSync(join(dataDir, 'sentia.sqlite'))).toBe(true);
      expect(existsSync(join(dataDir, 'secrets.json'))).toBe(true);
      expect(await server.stop()).toBe(0);
      const out = server.output();
      expect(out).toMatch(
        /listening on http:\/\/127\.0\.0\.1:\d+ \[development: SQLite .*sentia\.sqlite, in-memory store\]/,
      );
      expect(out).toContain('metrics: /metrics (public)  docs: /docs');
      expect(out).toContain('Audit: sync, durable in the database');
      expect(out).toContain(
        'Ignored settings this server does not know (misspelt?): MCP_SESSION_TTL_SECONDS',
      );
      // Nest's per-module and per-route inventory is debug detail, not part of an info-level boot.
      expect(out).toContain('"context":"NestApplication"');
      expect(out).not.toMatch(/"context":"(InstanceLoader|RoutesResolver|RouterExplorer)"/);
      // The stop says it began and that it finished, so an operator can tell a clean stop from a kill.
      expect(out).toContain('SIGTERM received: draining and shutting down');
      expect(out).toMatch(/"message":"Stopped in \d+ ms: calls answered, pending audit records flushed"/);
    } finally {
      await server.stop(1_000);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM ends open event streams instead of waiting out the grace with them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { DATA_DIR: dataDir, PORT: String(port), SHUTDOWN_GRACE_MS: '45000', LOG_LEVEL: 'error' };
    const server = spawnServer(env);
    try {
      await waitForOk(`${base}/health`, 20_000, () => server.child.exitCode === null);
      let token = '';
      expect(
        await main(['keys', 'create', '--org', 'boot', '--name', 'sse', '--permissions', 'admin'], env, {
          out: (t) => void (token += t.trim()),
          err: () => undefined,
        }),
      ).toBe(0);
      registerToken(token, 'boot sse');
      const headers = {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
      };
      const init = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers,
        body: JSON.stringify(initializeRequest('2025-11-25', 'boot')),
      });
      expect(init.status).toBe(200);
      const session = init.headers.get('mcp-session-id')!;
      await init.text();
      await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { ...headers, 'mcp-session-id': session },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      }).then((r) => r.text());
      const stream = await fetch(`${base}/mcp`, {
        headers: { ...headers, 'mcp-session-id': session, accept: 'text/event-stream' },
      });
      expect(stream.status).toBe(200);
      const reading = stream.text().then(
        () => 'ended',
        () => 'cut',
      );

      const started = Date.now();
      expect(await server.stop(60_000)).toBe(0);
      // Well inside SHUTDOWN_GRACE_MS (45 s): the open stream did not hold the shutdown.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await reading).toBe('ended');
    } finally {
      await server.stop(1_000);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  it('on SIGTERM closes kept-alive connections after their next answer, instead of serving on them for the whole grace', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-boot-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = spawnServer({
      DATA_DIR: dataDir,
      PORT: String(port),
      SHUTDOWN_GRACE_MS: '30000',
      LOG_LEVEL: 'error',
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await waitForOk(`${base}/health`, 20_000, () => server.child.exitCode === null);
      let signalled = 0;
      const afterSignal: string[] = []; // the Connection header of each answer sent after SIGTERM
      const errors: string[] = [];
      // Four callers in a closed loop on kept-alive connections, until the server is gone.
      const caller = async () => {
        for (;;) {
          const outcome = await new Promise<string | undefined>((resolve) => {
            const req = httpRequest(`${base}/health`, { agent }, (res) => {
              res.resume();
              res.on('end', () => {
                if (signalled) afterSignal.push(String(res.headers.connection));
                resolve(undefined);
              });
            });
            req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
            req.end();
          });
          if (outcome) {
            errors.push(outcome);
            if (outcome === 'ECONNREFUSED') return;
          }
        }
      };
      const callers = Promise.all([caller(), caller(), caller(), caller()]);
      await new Promise((r) => setTimeout(r, 300));
      signalled = Date.now();
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // Well inside SHUTDOWN_GRACE_MS: the kept-alive connections did not hold the shutdown.
      expect(Date.now() - signalled).toBeLessThan(10_000);
      await callers;
      // Each caller's connection got one answer saying so (after those already under way when the
      // signal landed), and then no more: its next connection was refused, never reset mid-request.
      expect(afterSignal.filter((c) => c === 'close')).toHaveLength(4);
      expect(errors).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    } finally {
      agent.destroy();
      await server.stop(1_000);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
