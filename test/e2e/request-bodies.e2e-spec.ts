/**
 * Request bodies on the REST API, through the whole app: a body is JSON or
 * it is refused with a precise answer, never dropped (so that an action runs
 * on its defaults) and never answered with the parser's or zlib's own text.
 */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../src/audit/audit.writer';
import { ApiKeyTokenService } from '../../src/auth/tokens/api-key-token.service';
import { startApp, StartedApp } from '../support/start-app';
import { registerSecret } from '../support/capture';
import { AUTH_ENV, issueKey } from './auth-helpers';

const PASTED_SECRET = 'sk-ant-api03-' + 'Pasted0Into0A0Path'.repeat(3);
registerSecret(PASTED_SECRET, 'request-bodies pasted into a path');

describe('REST request bodies (e2e)', () => {
  let started: StartedApp;
  let admin: string;

  beforeAll(async () => {
    started = await startApp({ ...AUTH_ENV });
    admin = (await issueKey(started, 'org-body', ['admin'], 'body admin')).token;
  });
  afterAll(async () => started?.close());

  const send = (
    method: string,
    path: string,
    body: string | Buffer | undefined,
    headers: Record<string, string>,
  ) =>
    fetch(`${started.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...headers },
      body,
    });
  const keyOf = async (id: string) =>
    (await (await send('GET', `/admin/api-keys/${id}`, undefined, {})).json()) as {
      status: string;
      revokedAt: string | null;
      revokedReason?: string | null;
    };
  const newKey = async (name: string) => (await issueKey(started, 'org-body', ['xero:read'], name)).key.id;

  it('refuses a JSON body sent as another Content-Type (415), and the action does not run', async () => {
    const id = await newKey('victim');
    for (const [path, body] of [
      [`/admin/api-keys/${id}/rotate`, '{"graceSeconds":3600}'],
      [`/admin/api-keys/${id}/revoke`, 'because'],
      ['/admin/api-keys', '{"name":"x","permissions":["xero:read"]}'],
    ]) {
      const res = await send('POST', path, body, { 'content-type': 'text/plain' });
      expect([path, res.status, await res.json()]).toEqual([
        path,
        415,
        {
          statusCode: 415,
          error: 'Unsupported Media Type',
          code: 'unsupported_media_type',
          message: 'Unsupported Media Type: Content-Type must be application/json',
        },
      ]);
    }
    // A body with no Content-Type at all is refused the same way.
    const bare = await send('POST', `/admin/api-keys/${id}/revoke`, Buffer.from('{"reason":"x"}'), {});
    expect(bare.status).toBe(415);
    expect(await keyOf(id)).toMatchObject({ status: 'active', revokedAt: null });
    const list = (await (await send('GET', '/admin/api-keys?limit=100', undefined, {})).json()) as {
      items: Array<{ name: string }>;
    };
    expect(list.items.map((k) => k.name).sort()).toEqual(['body admin', 'victim']);
  });

  it('audits the admin calls of a key refused before any route took them; nothing for a caller without a key', async () => {
    const id = (name: string) => ({ 'x-request-id': `unrouted-${name}` });
    const calls: Array<[string, number, Promise<Response>]> = [
      [
        '415',
        415,
        send('POST', '/admin/api-keys', '{"name":"x"}', { 'content-type': 'text/plain', ...id('415') }),
      ],
      [
        '400',
        400,
        send('POST', '/admin/api-keys', '{"name":', { 'content-type': 'application/json', ...id('400') }),
      ],
      ['405', 405, send('DELETE', '/admin/audit/export', undefined, id('405'))],
      ['404', 404, send('GET', '/admin/nothing-here', undefined, id('404'))],
      ['case', 404, send('GET', '/Admin/api-keys', undefined, id('case'))],
      // A secret pasted into a path is not kept by the trail (any audit:read key could read it).
      ['secret', 404, send('GET', `/admin/${PASTED_SECRET}`, undefined, id('secret'))],
    ];
    for (const [name, status, res] of calls) expect([name, (await res).status]).toEqual([name, status]);
    const anonymous = await fetch(`${started.url}/admin/nothing-here`, { headers: id('anonymous') });
    expect(anonymous.status).toBe(404);
    await started.app.get(AuditWriter).flush();
    const rows: Array<Record<string, unknown>> = await started.app.get(DataSource).query(
      `SELECT request_id, kind, action, outcome, status, error_code, key_id, organization_id FROM audit_logs
          WHERE request_id LIKE 'unrouted-%' ORDER BY request_id`,
    );
    const adminKeyId = (await started.app.get(ApiKeyTokenService).verify(admin)).keyId;
    // error_code: the `code` the answer carried, as for a call a route took.
    const row = (name: string, action: string, status: number, errorCode: string) => ({
      request_id: `unrouted-${name}`,
      kind: 'admin',
      action,
      outcome: 'client_error',
      status,
      error_code: errorCode,
      key_id: adminKeyId,
      organization_id: 'org-body',
    });
    expect(rows).toEqual([
      row('400', 'POST /admin/api-keys', 400, 'invalid_json'),
      row('404', 'GET /admin/nothing-here', 404, 'not_found'),
      row('405', 'DELETE /admin/audit/export', 405, 'method_not_allowed'),
      row('415', 'POST /admin/api-keys', 415, 'unsupported_media_type'),
      row('case', 'GET /Admin/api-keys', 404, 'not_found'),
      row('secret', 'GET /admin/[REDACTED]', 404, 'not_found'),
    ]);
  });

  it('answers Expect: 100-continue only when it will read the body: a 401 or 413 goes out before any is sent', async () => {
    /** POSTs `body` the way curl does for large bodies: headers first, the body only after 100 Continue. */
    const expectContinue = (path: string, body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = httpRequest(new URL(path, started.url), {
          method: 'POST',
          headers: {
            expect: '100-continue',
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            ...headers,
          },
        });
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, continued });
            if (!continued) req.destroy();
          });
        });
        req.on('error', (e) => (continued ? reject(e) : undefined));
        req.flushHeaders();
      });
    const create = JSON.stringify({ name: 'continued', permissions: ['xero:read'] });
    expect(await expectContinue('/admin/api-keys', create, {})).toEqual({ status: 401, continued: false });
    const huge = JSON.stringify({ name: 'x', pad: 'y'.repeat(2 * 1024 * 1024) });
    expect(await expectContinue('/admin/api-keys', huge, { authorization: `Bearer ${admin}` })).toEqual({
      status: 413,
      continued: false,
    });
    expect(await expectContinue('/admin/api-keys', create, { authorization: `Bearer ${admin}` })).toEqual({
      status: 201,
      continued: true,
    });
    // At the limit exactly the body is asked for (and read: 400 for its unknown member); one byte more is not.
    const sized = (bytes: number) => {
      const shell = JSON.stringify({ name: 'x', pad: '' });
      return JSON.stringify({ name: 'x', pad: 'y'.repeat(bytes - Buffer.byteLength(shell)) });
    };
    const limit = started.config.mcp.maxBodyBytes;
    const auth = { authorization: `Bearer ${admin}` };
    expect(await expectContinue('/admin/api-keys', sized(limit + 1), auth)).toEqual({
      status: 413,
      continued: false,
    });
    expect(await expectContinue('/admin/api-keys', sized(limit), auth)).toEqual({
      status: 400,
      continued: true,
    });
  });

  it('still takes a request with no body, and a gzip-compressed JSON body', async () => {
    const id = await newKey('no body');
    expect((await send('POST', `/admin/api-keys/${id}/revoke`, undefined, {})).status).toBe(200);
    expect(await keyOf(id)).toMatchObject({ status: 'revoked', revokedReason: 'revoked' });

    const zipped = await send(
      'POST',
      '/admin/api-keys',
      gzipSync(JSON.stringify({ name: 'zipped', permissions: ['xero:read'] })),
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    );
    expect(zipped.status).toBe(201);
    expect(await zipped.json()).toMatchObject({ key: { name: 'zipped' } });
  });

  it('answers a body it cannot decode, or in a charset or encoding it does not take, without library text', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<[string, string | Buffer, Record<string, string>, number, string, string]> = [
      [
        'gzip header on plain text',
        '{"name":"x"}',
        { ...json, 'content-encoding': 'gzip' },
        400,
        'Request body could not be read: it does not match its Content-Encoding or was cut short',
        'unreadable_body',
      ],
      [
        'unknown encoding',
        '{"name":"x"}',
        { ...json, 'content-encoding': 'compress' },
        415,
        'Unsupported Content-Encoding: use gzip, deflate or br, or none',
        'unsupported_encoding',
      ],
      [
        'latin-9 charset',
        '{"name":"x"}',
        { 'content-type': 'application/json; charset=latin9' },
        415,
        'Unsupported charset: a JSON body must be utf-8 (or another UTF encoding)',
        'unsupported_charset',
      ],
      // A REST body is one object (an array is a JSON-RPC batch's form, on /mcp only).
      ['a JSON number', '42', json, 400, 'Request body must be a JSON object', 'invalid_json'],
      ['a JSON null', 'null', json, 400, 'Request body must be a JSON object', 'invalid_json'],
      ['not JSON', '{"name":', json, 400, 'Parse error: request body is not valid JSON', 'invalid_json'],
    ];
    for (const [what, body, headers, status, message, code] of cases) {
      const res = await send('POST', '/admin/api-keys', body, headers);
      const text = await res.text();
      expect([what, res.status, JSON.parse(text)]).toEqual([
        what,
        status,
        {
          statusCode: status,
          error: status === 415 ? 'Unsupported Media Type' : 'Bad Request',
          code,
          message,
        },
      ]);
      expect(text).not.toMatch(/incorrect header check|zlib|SyntaxError|Unexpected token|at \w+ \(/);
    }
    expect((await send('GET', '/health', undefined, {})).status).toBe(200);
  });

  it('reads no body for a caller without a valid key, nor on a route that takes none', async () => {
    const junk = '{"name":' + '['.repeat(100) + ' not json';
    const json = { 'content-type': 'application/json' };
    // Not parsed (no 400 parse error): the guard's 401 is the answer.
    for (const authorization of [undefined, 'Bearer not-a-token', `Bearer ${admin.slice(0, -4)}AAAA`]) {
      const res = await fetch(`${started.url}/admin/api-keys`, {
        method: 'POST',
        headers: { ...json, ...(authorization ? { authorization } : {}) },
        body: junk,
      });
      expect([authorization?.slice(0, 12), res.status]).toEqual([authorization?.slice(0, 12), 401]);
      await res.arrayBuffer();
    }
    // A revoked key's token still verifies; its body is not read either, and its unrouted calls are not
    // recorded as an admin's.
    const revokedToken = (await issueKey(started, 'org-body', ['admin'], 'revoked admin')).token;
    const revokedId = (await started.app.get(ApiKeyTokenService).verify(revokedToken)).keyId;
    expect((await send('POST', `/admin/api-keys/${revokedId}/revoke`, '{}', json)).status).toBe(200);
    for (const [path, body] of [
      ['/admin/api-keys', junk],
      ['/admin/api-keys', JSON.stringify({ name: 'x'.repeat(64), pad: 'y'.repeat(2_000_000) })],
      ['/admin/nothing-here', undefined],
    ] as const) {
      const res = await fetch(`${started.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { ...json, authorization: `Bearer ${revokedToken}`, 'x-request-id': 'revoked-caller' },
        body,
      });
      expect([path, res.status]).toEqual([path, path === '/admin/nothing-here' ? 404 : 401]);
      await res.arrayBuffer();
    }
    await started.app.get(AuditWriter).flush();
    const attributed: unknown[] = await started.app
      .get(DataSource)
      .query(`SELECT action, kind FROM audit_logs WHERE request_id = 'revoked-caller' AND kind = 'admin'`);
    expect(attributed).toEqual([]);

    const mcp = await fetch(`${started.url}/mcp`, {
      method: 'POST',
      headers: { ...json, accept: 'application/json, text/event-stream' },
      body: junk,
    });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await mcp.arrayBuffer();
    // A path that takes no body: the method's answer, the body never looked at.
    const health = await send('POST', '/health', junk, json);
    expect(health.status).toBe(405);
    await health.arrayBuffer();
    // With a valid key the same body is read, and refused for what it is.
    const parsed = await send('POST', '/admin/api-keys', junk, json);
    expect(parsed.status).toBe(400);
    expect(await parsed.json()).toMatchObject({ message: 'Parse error: request body is not valid JSON' });
  });

  it('refuses a body of more than 20,000 values (413) before validating it or digesting it for the audit', async () => {
    const many = JSON.stringify({
      name: 'many',
      permissions: ['xero:read'],
      extra: Object.fromEntries(Array.from({ length: 20_001 }, (_, i) => [`k${i}`, 0])),
    });
    const res = await send('POST', '/admin/api-keys', many, { 'content-type': 'application/json' });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'too_many_values',
      message: 'Request body holds more than 20000 values (object members and array items)',
    });
    const list = (await (await send('GET', '/admin/api-keys?limit=100', undefined, {})).json()) as {
      items: Array<{ name: string }>;
    };
    expect(list.items.map((k) => k.name)).not.toContain('many');
  });
});
