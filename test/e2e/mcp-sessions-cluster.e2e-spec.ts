/**
 * 2025-era MCP sessions behind a load balancer without sticky routing: two
 * instances share PostgreSQL (own schema) and Redis (through a proxy this
 * test can cut), and a client's requests alternate between them.
 */
jest.setTimeout(60_000);

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WINSTON_MODULE_NEST_PROVIDER, WINSTON_MODULE_PROVIDER } from 'nest-winston';
import { Logger as WinstonLogger, transports } from 'winston';
import { LegacySessions } from '../../src/mcp/legacy-sessions.service';
import { LogCapture } from '../../src/observability/log-capture';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { AUTH_ENV } from './auth-helpers';
import { TcpProxy } from '../support/tcp-proxy';
import { initializeRequest } from '../support/mcp-messages';

const ACCEPT = 'application/json, text/event-stream';
const INIT = initializeRequest();
const CALL = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'server_info', arguments: {} } };

describeWithPostgres('MCP sessions across two instances', () => {
  describeWithRedis('sharing Redis', () => {
    let proxy: TcpProxy;
    let a: StartedApp;
    let b: StartedApp;
    let key: TestKey;
    let env: Record<string, string>;

    beforeAll(async () => {
      proxy = await TcpProxy.to(TEST_REDIS_URL);
      env = {
        JWT_SECRET: AUTH_ENV.JWT_SECRET,
        MASTER_ENCRYPTION_KEY: AUTH_ENV.MASTER_ENCRYPTION_KEY,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: uniqueName('mcp_sessions'),
        REDIS_URL: proxy.urlFor(TEST_REDIS_URL),
        LOG_LEVEL: 'warn',
        // For test_reconnection: a tool that closes its SSE stream mid-call (SEP-1699).
        MCP_CONFORMANCE_FIXTURES: 'true',
        // Its own keys in the shared Redis, and room for every request here from one address: runs
        // (and other specs) within a minute must not share or exhaust one per-IP budget.
        REDIS_KEY_PREFIX: `${uniqueName('sessions')}:`,
        RATE_LIMIT_IP_MAX: '100000',
      };
      a = await startApp(env);
      b = await startApp(env);
      key = await TestKey.create(a, { permissions: ['ai:invoke'] });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.cut();
    });

    const post = (app: StartedApp, body: unknown, headers: Record<string, string> = {}, k = key) =>
      fetch(`${app.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: ACCEPT,
          'mcp-protocol-version': '2025-11-25',
          ...authHeaders(k),
          ...headers,
        },
        body: JSON.stringify(body),
      });
    async function openOn(app: StartedApp): Promise<string> {
      const res = await post(app, INIT);
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('mcp-session-id')!;
    }
    const live = (app: StartedApp) => app.app.get(LegacySessions).size;

    it('serves one client session whose requests alternate between the instances', async () => {
      const servedBy: string[] = [];
      let turn = 0;
      // The load balancer: every request goes to the next instance in turn.
      const roundRobin = (input: string | URL | Request, init?: RequestInit) => {
        const target = [a, b][turn++ % 2];
        servedBy.push(target.url);
        const url = new URL(input instanceof Request ? input.url : String(input));
        return fetch(`${target.url}${url.pathname}${url.search}`, init);
      };
      const client = new ClientV1({ name: 'e2e-lb', version: '1.0.0' });
      const transport = new TransportV1(new URL(`${a.url}/mcp`), {
        requestInit: { headers: authHeaders(key) },
        fetch: roundRobin,
      });
      await client.connect(transport);
      const sessionId = transport.sessionId!;
      expect(sessionId).toBeTruthy();
      for (let i = 0; i < 4; i++) {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain('server_info');
        const result = await client.callTool({ name: 'server_info', arguments: {} });
        expect(result.isError).toBeFalsy();
      }
      expect(new Set(servedBy)).toEqual(new Set([a.url, b.url]));

      await transport.terminateSession();
      for (const app of [a, b])
        expect((await post(app, CALL, { 'mcp-session-id': sessionId })).status).toBe(404);
      await client.close();
    });

    it('a DELETE on the other instance ends the session on the one that opened it, its GET stream at once', async () => {
      const id = await openOn(a);
      const before = live(a);
      expect((await post(b, CALL, { 'mcp-session-id': id })).status).toBe(200);
      await (
        await post(a, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id })
      ).text();
      const stream = await fetch(`${a.url}/mcp`, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': id, ...authHeaders(key) },
      });
      expect(stream.status).toBe(200);
      const reader = stream.body!.getReader();
      const streamEnded = (async () => {
        while (!(await reader.read()).done);
        return Date.now();
      })();
      const del = await fetch(`${b.url}/mcp`, {
        method: 'DELETE',
        headers: { 'mcp-session-id': id, ...authHeaders(key) },
      });
      expect(del.status).toBe(200);
      const deletedAt = Date.now();
      // Told on the store's channel, not left open until the idle sweep.
      expect((await streamEnded) - deletedAt).toBeLessThan(3_000);
      const after = await post(a, CALL, { 'mcp-session-id': id });
      expect(after.status).toBe(404);
      expect(((await after.json()) as { error: { code: number } }).error.code).toBe(-32001);
      expect(live(a)).toBe(before - 1);
    });

    /** A session on `app` that has sent notifications/initialized, and a tool call whose stream the tool closes. */
    async function brokenStream(
      app: StartedApp,
      delayMs: number,
    ): Promise<{ id: string; lastEventId: string }> {
      const id = await openOn(app);
      await (
        await post(app, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id })
      ).text();
      const call = await post(
        app,
        {
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'test_reconnection', arguments: { delayMs } },
        },
        { 'mcp-session-id': id },
      );
      const stream = await call.text(); // ends when the tool closes it
      expect(stream).not.toContain('"id":7');
      return { id, lastEventId: [...stream.matchAll(/^id: (\S+)$/gm)].pop()![1] };
    }
    const resume = (app: StartedApp, id: string, lastEventId: string) =>
      fetch(`${app.url}/mcp`, {
        headers: {
          accept: 'text/event-stream',
          'mcp-session-id': id,
          'last-event-id': lastEventId,
          ...authHeaders(key),
        },
        signal: AbortSignal.timeout(20_000),
      });
    /** The stream's text up to its end, or up to the answer to request 7 when `untilAnswer`. */
    async function readStream(
      res: Response,
      untilAnswer: boolean,
    ): Promise<{ text: string; ended: boolean }> {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      for (;;) {
        if (untilAnswer && text.includes('"id":7')) {
          await reader.cancel();
          return { text, ended: false };
        }
        const { value, done } = await reader.read();
        if (done) return { text, ended: true };
        text += value;
      }
    }

    it('a stream broken on the opening instance resumes on the other: it follows the stream until the answer, then ends', async () => {
      const { id, lastEventId } = await brokenStream(a, 1_500);
      const livesOnB = live(b);
      const started = Date.now();
      const res = await resume(b, id, lastEventId); // the answer is not stored yet: b follows the stream
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const { text, ended } = await readStream(res, false);
      expect(ended).toBe(true); // ended by the server once the answer went out, not by a timeout
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(text).toMatch(/^retry: 1000\n/);
      expect(text).toContain('Reconnection test completed successfully');
      const answer = [...text.matchAll(/^id: (\S+)\ndata: (.+)$/gm)].find(([, , data]) =>
        data.includes('"id":7'),
      );
      expect(answer).toBeDefined();
      expect(JSON.parse(answer![2])).toMatchObject({
        jsonrpc: '2.0',
        id: 7,
        result: { content: [{ type: 'text' }] },
      });
      expect(live(b)).toBe(livesOnB); // b served it without taking the session over
    });

    it('an answer already stored is replayed on the other instance, once, and the stream ends', async () => {
      const { id, lastEventId } = await brokenStream(a, 0);
      await new Promise((r) => setTimeout(r, 300)); // the tool answers into the event store
      const res = await resume(b, id, lastEventId);
      expect(res.status).toBe(200);
      const { text, ended } = await readStream(res, false);
      expect(ended).toBe(true);
      expect(text.match(/Reconnection test completed successfully/g)).toHaveLength(1);
      // Resuming after the answer's own id replays nothing more.
      const answerId = [...text.matchAll(/^id: (\S+)$/gm)].pop()![1];
      const after = await resume(b, id, answerId);
      expect(after.status).toBe(200);
      const rest = await Promise.race([
        readStream(after, true),
        new Promise<null>((r) => setTimeout(() => r(null), 1_000)),
      ]);
      expect(rest?.text ?? '').not.toContain('"id":7');
      await after.body?.cancel().catch(() => undefined);
    });

    it('a DELETE ends the stream another instance follows for the session, at once', async () => {
      const { id, lastEventId } = await brokenStream(a, 8_000);
      const res = await resume(b, id, lastEventId);
      expect(res.status).toBe(200);
      const reading = readStream(res, false);
      await new Promise((r) => setTimeout(r, 200)); // b is following the stream now
      const del = await fetch(`${a.url}/mcp`, {
        method: 'DELETE',
        headers: { 'mcp-session-id': id, ...authHeaders(key) },
      });
      expect(del.status).toBe(200);
      const deletedAt = Date.now();
      const { text, ended } = await reading;
      expect(ended).toBe(true);
      expect(Date.now() - deletedAt).toBeLessThan(3_000); // not left open for the 25 s follow
      expect(text).not.toContain('"id":7');
    });

    it("another session's event id, or one never sent, is a 400 on either instance and replays nothing", async () => {
      const first = await brokenStream(a, 0);
      const second = await openOn(a);
      for (const [app, session, eventId] of [a, b].flatMap((app) => [
        [app, second, first.lastEventId] as const,
        [app, first.id, 'not-a-stream_99'] as const,
        [app, first.id, `${first.lastEventId.replace(/_\d+$/, '')}_9999`] as const,
        [app, first.id, 'garbage'] as const,
      ])) {
        const res = await resume(app, session, eventId);
        expect([session === second ? 'other session' : eventId, res.status]).toEqual([
          session === second ? 'other session' : eventId,
          400,
        ]);
        const body = (await res.json()) as { error: { message: string } };
        expect(body.error.message).toContain('Last-Event-ID names no event of this session');
      }
      // A resume that does not take an event stream is told so on the other instance, as on the opener.
      const json = await fetch(`${b.url}/mcp`, {
        headers: {
          accept: 'application/json',
          'mcp-session-id': first.id,
          'last-event-id': first.lastEventId,
          ...authHeaders(key),
        },
        signal: AbortSignal.timeout(20_000),
      });
      expect([json.status, ((await json.json()) as { error: { message: string } }).error.message]).toEqual([
        406,
        'Not Acceptable: Client must accept text/event-stream',
      ]);
    });

    it('an instance that shuts down leaves its sessions to the others', async () => {
      const c = await startApp(env);
      let closed = false;
      try {
        const id = await openOn(c);
        await c.close();
        closed = true;
        const res = await post(b, CALL, { 'mcp-session-id': id });
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('sentia-mcp'); // the server_info result (JSON or SSE)
      } finally {
        if (!closed) await c.close();
      }
    });

    it('another key cannot use a session on either instance (404, as if it did not exist)', async () => {
      const other = await TestKey.create(a, { permissions: ['ai:invoke'] });
      const id = await openOn(a);
      for (const app of [a, b]) {
        const res = await post(app, CALL, { 'mcp-session-id': id }, other);
        expect(res.status).toBe(404);
      }
      expect((await post(b, CALL, { 'mcp-session-id': id })).status).toBe(200);
    });

    it('with the store cut, the opening instance keeps its session; other instances and new sessions get 503, not an unchecked pass', async () => {
      const id = await openOn(a);
      const logs = new LogCapture();
      const bLogger = b.app.get<WinstonLogger>(WINSTON_MODULE_PROVIDER);
      bLogger.add(new transports.Stream({ stream: logs.stream }));
      // Nest's Logger writes to the process's one global logger: the last app started here (a closed
      // one, after the test above). A server process has one app; point it back at b's.
      b.app.useLogger(b.app.get(WINSTON_MODULE_NEST_PROVIDER));
      await proxy.cut();
      try {
        const elsewhere = await post(b, CALL, { 'mcp-session-id': id });
        // The operator's line says why (the client's answer does not).
        const refusals = (await logs.lines()).filter((l) =>
          /Session store unreachable/.test(String(l.message)),
        );
        expect(refusals[0]?.message).toMatch(/Session store unreachable \(\w*Error: .+\); refusing/);
        expect(elsewhere.status).toBe(503);
        expect(elsewhere.headers.get('retry-after')).toBe('1');
        const body = (await elsewhere.json()) as { error: { message: string } };
        expect(body.error.message).toMatch(/session store/i);
        expect((await post(a, CALL, { 'mcp-session-id': id })).status).toBe(200);
        // A new session cannot be recorded: 503 naming the store, no driver message.
        const init = await post(a, INIT);
        expect(init.status).toBe(503);
        const text = await init.text();
        expect(text).toMatch(/session store temporarily unavailable/i);
        expect(text).not.toMatch(/offline|stream|redis/i);
      } finally {
        await proxy.restore();
      }
    });
  });
});
