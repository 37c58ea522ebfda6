/**
 * The HTTP server under the application:
 * - idle keep-alive connections, as a load balancer holds them: the server
 *   must not close one before the balancer does (Node's own 5 s default races
 *   a balancer's 60 s idle timeout into resets and 502s), and
 *   HTTP_KEEP_ALIVE_TIMEOUT_MS sets how long it keeps one;
 * - requests and responses are built with Express's prototypes, so Express
 *   never swaps a live object's prototype (see ExpressServerAdapter).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, Socket } from 'node:net';
import type { Express } from 'express';
import { modernToolCallInit } from '../support/mcp-messages';
import { startApp, StartedApp } from '../support/start-app';
import { TestKey } from '../support/test-keys';
import { bearer, issueKey, registerToken } from './auth-helpers';

/** A raw keep-alive connection to `url`, with the bytes it has received and whether the server closed it. */
async function openConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const state = { received: '', closed: false };
  socket.on('data', (d: Buffer) => (state.received += d.toString('latin1')));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  const get = async (path: string) => {
    const before = state.received.length;
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`);
    const deadline = Date.now() + 5_000;
    while (!/\r\n\r\n/.test(state.received.slice(before)) && !state.closed && Date.now() < deadline)
      await sleep(10);
    return state.received.slice(before);
  };
  return { socket, state, get };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP keep-alive', () => {
  let started: StartedApp | undefined;
  afterEach(async () => {
    await started?.close();
    started = undefined;
  });

  it('keeps an idle connection open past Node’s 5 s default and answers on it again', async () => {
    started = await startApp();
    const conn = await openConnection(started.url);
    try {
      expect(await conn.get('/health')).toMatch(/^HTTP\/1\.1 200 /);
      await sleep(7_000); // Node closes at its 5 s default plus a 1 s grace
      expect(conn.state.closed).toBe(false);
      expect(await conn.get('/health')).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      conn.socket.destroy();
    }
  }, 20_000);

  it('closes an idle connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    started = await startApp({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' });
    const conn = await openConnection(started.url);
    try {
      expect(await conn.get('/health')).toMatch(/^HTTP\/1\.1 200 /);
      expect(conn.state.closed).toBe(false);
      const deadline = Date.now() + 4_000;
      while (!conn.state.closed && Date.now() < deadline) await sleep(50);
      expect(conn.state.closed).toBe(true);
    } finally {
      conn.socket.destroy();
    }
  }, 20_000);

  it('cuts off a client that dribbles its headers or body (408), but not an idle kept-alive connection', async () => {
    started = await startApp({ HTTP_HEADERS_TIMEOUT_MS: '1500', HTTP_REQUEST_TIMEOUT_MS: '3000' });
    const idle = await openConnection(started.url);
    const headers = await openConnection(started.url);
    const body = await openConnection(started.url);
    try {
      expect(await idle.get('/health')).toMatch(/^HTTP\/1\.1 200 /);
      const { hostname, port } = new URL(started.url);
      headers.socket.write(`GET /health HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Slow: `);
      // A body is read only for a key that verifies (else the 401 comes at once, the body unread).
      const key = await TestKey.create(started, { permissions: ['ai:invoke'] });
      body.socket.write(
        `POST /mcp HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${key.token}\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":`,
      );
      const deadline = Date.now() + 10_000;
      while ((!headers.state.closed || !body.state.closed) && Date.now() < deadline) await sleep(100);
      expect([headers.state.closed, headers.state.received.split('\r\n')[0]]).toEqual([
        true,
        'HTTP/1.1 408 Request Timeout',
      ]);
      expect([body.state.closed, body.state.received.split('\r\n')[0]]).toEqual([
        true,
        'HTTP/1.1 408 Request Timeout',
      ]);
      // The same JSON error as every other answer, naming why.
      expect(JSON.parse(headers.state.received.split('\r\n\r\n')[1])).toEqual({
        statusCode: 408,
        error: 'Request Timeout',
        code: 'request_timeout',
        message: 'The request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS)',
      });
      // Idle well past the headers timeout between requests: still served.
      expect(idle.state.closed).toBe(false);
      expect(await idle.get('/health')).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const c of [idle, headers, body]) c.socket.destroy();
    }
  }, 30_000);
});

describe('requests Node cannot parse', () => {
  let started: StartedApp | undefined;
  afterAll(async () => started?.close());

  it('answers a URL over the header limit (431), broken HTTP and HTTP/1.1 without Host (400) with a JSON error, and keeps serving', async () => {
    started = await startApp({});
    const long = await fetch(`${started.url}/health?x=${'a'.repeat(20_000)}`);
    expect(long.status).toBe(431);
    expect(await long.json()).toEqual({
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      code: 'headers_too_large',
      message: expect.stringMatching(/^Request headers, the URL included, exceed the limit of \d+ bytes$/),
    });
    const broken = await openConnection(started.url);
    try {
      broken.socket.write('GET /health HTTP/1.1\r\nHost\r\n\r\n');
      const deadline = Date.now() + 5_000;
      while (!broken.state.closed && Date.now() < deadline) await sleep(50);
      const [head, body] = broken.state.received.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(JSON.parse(body)).toMatchObject({ statusCode: 400, code: 'bad_request' });
    } finally {
      broken.socket.destroy();
    }
    // HTTP/1.1 without Host (RFC 9112 §3.2): Node's own answer was a bare 400 with no body.
    const hostless = await openConnection(started.url);
    try {
      hostless.socket.write('GET /health HTTP/1.1\r\n\r\n');
      const deadline = Date.now() + 5_000;
      while (!hostless.state.closed && Date.now() < deadline) await sleep(50);
      const [head, body] = hostless.state.received.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(head).toMatch(/\r\nConnection: close\r\n/i);
      expect(JSON.parse(body)).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        code: 'bad_request',
        message: 'The request is not valid HTTP/1.1: it has no Host header',
      });
      expect(hostless.state.closed).toBe(true);
    } finally {
      hostless.socket.destroy();
    }
    // HTTP/1.0 needs no Host.
    const old = await openConnection(started.url);
    try {
      old.socket.write('GET /health HTTP/1.0\r\n\r\n');
      const deadline = Date.now() + 5_000;
      while (!old.state.closed && Date.now() < deadline) await sleep(50);
      expect(old.state.received.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    } finally {
      old.socket.destroy();
    }
    expect((await fetch(`${started.url}/health`)).status).toBe(200);
  });
});

describe('HTTP server objects', () => {
  let started: StartedApp | undefined;
  afterAll(async () => started?.close());

  it("builds each request and response with Express's prototypes before Express sees them", async () => {
    started = await startApp();
    const express = started.app.getHttpAdapter().getInstance() as Express;
    const server = started.app.getHttpServer() as Server;
    const seen: boolean[] = [];
    const probe = (req: IncomingMessage, res: ServerResponse) =>
      seen.push(
        Object.getPrototypeOf(req) === express.request && Object.getPrototypeOf(res) === express.response,
      );
    server.prependListener('request', probe);
    try {
      const res = await fetch(`${started.url}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok' });
      const missing = await fetch(`${started.url}/no-such-route`);
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
    } finally {
      server.removeListener('request', probe);
    }
    expect(seen).toEqual([true, true]);
  });
});

describe('methods and paths', () => {
  let started: StartedApp;
  beforeAll(async () => {
    started = await startApp();
  });
  afterAll(async () => started?.close());

  it('sends nosniff and no-store on every answer; the RFC 9728 metadata alone may be cached', async () => {
    const { url } = started;
    const admin = await issueKey(started, 'org-headers', ['admin']);
    const json = { ...bearer(admin.token), 'content-type': 'application/json' };
    const created = await fetch(`${url}/admin/api-keys`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'caller', permissions: ['xero:read'] }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    registerToken(token, 'http-server headers');
    const answers: Array<[string, Response]> = [
      ['health', await fetch(`${url}/health`)],
      ['a path no route has', await fetch(`${url}/nowhere`)],
      ['no key', await fetch(`${url}/admin/api-keys`)],
      [
        'a body that is not JSON',
        await fetch(`${url}/admin/api-keys`, { method: 'POST', headers: json, body: '{' }),
      ],
      ['a new key (its token)', created],
      ['an MCP tool call', await fetch(`${url}/mcp`, modernToolCallInit(token, { id: 1 }))],
    ];
    for (const [what, res] of answers) {
      expect([what, res.headers.get('x-content-type-options'), res.headers.get('cache-control')]).toEqual([
        what,
        'nosniff',
        'no-store',
      ]);
    }
    expect(answers.map(([, res]) => res.status)).toEqual([200, 404, 401, 400, 201, 200]);
    const metadata = await fetch(`${url}/.well-known/oauth-protected-resource/mcp`);
    expect(metadata.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(metadata.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers a method a path does not take with 405 and Allow, before any key check', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/health', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['PATCH', '/credentials/xero', 'DELETE, GET, HEAD, PUT'],
      ['DELETE', '/admin/api-keys/key_x', 'GET, HEAD'],
      ['PUT', '/admin/api-keys', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${started.url}${path}`, { method });
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
      expect(await res.json()).toEqual({
        statusCode: 405,
        error: 'Method Not Allowed',
        code: 'method_not_allowed',
        message: `${method} is not allowed on ${path}: use ${allow}`,
      });
    }
  });

  it('still answers 404 for a path no route has, in any spelling of its case', async () => {
    for (const path of ['/no-such-route', '/HEALTH', '/Admin/Api-Keys']) {
      const res = await fetch(`${started.url}${path}`, { method: 'PUT' });
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get('allow')).toBeNull();
      await res.arrayBuffer();
    }
  });

  it('names the method and path of what it did not find, never the query string (a token may be in it)', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const res = await fetch(`${started.url}/no-such-route?access_token=${token}&x=1`);
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'not_found',
      message: 'Cannot GET /no-such-route',
    });
    expect(text).not.toContain('access_token');
  });
});
