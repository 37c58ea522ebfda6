/**
 * The audit trail through the whole application: a tool call over /mcp with
 * the v1 SDK client and an admin REST call each leave exactly one audit row
 * with the right fields and argument digest; the query and export endpoints
 * are organisation-scoped, validated and need `audit:read`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdirSync, rmSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { argsDigest } from '../../src/audit/audit-record';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { AuditWriter } from '../../src/audit/audit.writer';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { modernMeta } from '../support/mcp-messages';

type Row = Record<string, unknown>;

/** A cursor as the endpoint encodes one (base64url JSON `[time, id]`), with values of the test's choosing. */
const cursorOf = (v: [string, string]) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

describe('audit trail (e2e)', () => {
  let started: StartedApp;
  let ds: DataSource;
  let admin: TestKey;
  let reader: TestKey;
  let otherOrg: TestKey;
  let toolOnly: TestKey;

  const rows = (where: string, params: unknown[] = []): Promise<Row[]> =>
    ds.query(`SELECT * FROM audit_logs WHERE ${where} ORDER BY id`, params);
  const get = (path: string, key: TestKey, headers: Record<string, string> = {}) =>
    fetch(`${started.url}${path}`, { headers: { ...authHeaders(key), ...headers } });

  beforeAll(async () => {
    started = await startApp({ MCP_CONFORMANCE_FIXTURES: 'true' });
    ds = started.app.get(DataSource);
    admin = await TestKey.create(started, { permissions: ['admin'] });
    reader = await TestKey.create(started, { permissions: ['audit:read'] });
    toolOnly = await TestKey.create(started, { permissions: ['xero:read'] });
    otherOrg = await TestKey.create(started, { permissions: ['audit:read'], organizationId: 'org-other' });
  });
  afterAll(async () => {
    await started?.close();
  });

  it('a tool call leaves exactly one tool_call row with the caller, request and argument digest', async () => {
    const client = new Client({ name: 'audit-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
      requestInit: {
        headers: { ...authHeaders(admin), 'x-request-id': 'e2e-tool-call-1', 'user-agent': 'audit-e2e/1' },
      },
    });
    await client.connect(transport);
    const args = { name: 'Ada', address: { street: '1 Analytical Way', city: 'London' } };
    const result = await client.callTool({ name: 'json_schema_2020_12_tool', arguments: args });
    expect(result.isError).toBeFalsy();
    const failed = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.close();

    const [row, ...more] = await rows(`kind = 'tool_call' AND action = 'json_schema_2020_12_tool'`);
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({
      organization_id: 'org-test',
      user_id: 'u-e2e',
      key_id: admin.keyId,
      outcome: 'success',
      error_code: null,
      request_id: 'e2e-tool-call-1',
      user_agent: 'audit-e2e/1',
      args_digest: argsDigest({ address: { city: 'London', street: '1 Analytical Way' }, name: 'Ada' }),
      args: null,
    });
    expect(String(row.ip)).toMatch(/127\.0\.0\.1/);
    expect(Number(row.duration_ms)).toBeGreaterThanOrEqual(0);

    const errors = await rows(`kind = 'tool_call' AND action = 'test_error_handling'`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      outcome: 'tool_error',
      error_code: 'conformance_test_error',
      args_digest: argsDigest({}),
    });
  });

  it('an admin REST call leaves exactly one admin row; a refused one (403 by the guard) leaves none', async () => {
    const res = await get('/admin/audit?kind=tool_call&limit=10', reader, { 'x-request-id': 'e2e-admin-1' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      items: Array<{ action: string; keyId: string }>;
      nextCursor: string | null;
    };
    expect(body.items.map((i) => i.action).sort()).toEqual([
      'json_schema_2020_12_tool',
      'test_error_handling',
    ]);
    // Every field is present in every item, null when absent (args too, when not stored).
    for (const item of body.items) expect(item).toHaveProperty('args', null);

    const adminRows = await rows(`request_id = 'e2e-admin-1'`);
    expect(adminRows).toHaveLength(1);
    expect(adminRows[0]).toMatchObject({
      kind: 'admin',
      action: 'GET /admin/audit',
      outcome: 'success',
      status: 200,
      organization_id: 'org-test',
      key_id: reader.keyId,
      args_digest: argsDigest({ body: undefined, params: {}, query: { kind: 'tool_call', limit: '10' } }),
    });

    const refused = await get('/admin/audit', toolOnly, { 'x-request-id': 'e2e-admin-403' });
    expect(refused.status).toBe(403);
    expect(await rows(`request_id = 'e2e-admin-403' AND kind = 'admin'`)).toHaveLength(0);
  });

  it('matches routes in their own case only, so no other spelling of an audited route runs: each is a 404, recorded', async () => {
    const before = (await rows(`kind = 'admin'`)).length;
    const attempts: Array<[string, string]> = [
      ['GET', '/Admin/Audit'],
      ['GET', '/ADMIN/AUDIT/EXPORT?format=csv'],
      ['PUT', '/Credentials/openai'],
      ['DELETE', '/CREDENTIALS/openai'],
      ['POST', '/admin/API-KEYS'],
    ];
    for (const [method, path] of attempts) {
      const res = await fetch(`${started.url}${path}`, {
        method,
        headers: { ...authHeaders(admin), 'content-type': 'application/json' },
        body: method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify({ apiKey: 'sk-case' }),
      });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    await started.app.get(AuditWriter).flush();
    // Nothing ran; each attempt of the admin's key is on the trail as the 404 it got.
    const after = await rows(`kind = 'admin'`);
    expect(after.slice(before).map((r) => [r.action, r.status, r.outcome])).toEqual(
      attempts.map(([method, path]) => [`${method} ${path.split('?')[0]}`, 404, 'client_error']),
    );
    const stored = (await (await get('/credentials', admin)).json()) as { items: unknown[] };
    expect(stored.items).toEqual([]);
  });

  it('answers 400 naming the field for a bad filter, and records that call as a client error', async () => {
    const res = await get('/admin/audit?from=last-week', reader, { 'x-request-id': 'e2e-admin-400' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      field: 'from',
      message: expect.stringMatching(/^from: must be an ISO 8601 time/),
    });
    const [row] = await rows(`request_id = 'e2e-admin-400'`);
    expect(row).toMatchObject({ status: 400, outcome: 'client_error', error_code: 'invalid_query' });
    expect((await get('/admin/audit/export?format=xml', reader)).status).toBe(400);
    // Several bad parameters: one 400 naming each, not only the first.
    const many = await get('/admin/audit?kind=bogus&from=yesterday&limit=900&outcome=x&colour=red', reader);
    expect(many.status).toBe(400);
    const body = (await many.json()) as { field: string; message: string; errors: { field: string }[] };
    expect(body.errors.map((e) => e.field)).toEqual(['colour', 'from', 'kind', 'limit', 'outcome']);
    expect(body.field).toBe('colour');
    expect(body.errors[0]).toEqual({
      field: 'colour',
      message:
        'is not a known query parameter (known: from, to, userId, keyId, kind, action, outcome, limit, cursor)',
    });
    const flood = await get(
      `/admin/audit?${Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&')}`,
      reader,
    );
    const flooded = (await flood.json()) as { message: string; errors: unknown[] };
    expect([flood.status, flooded.errors.length]).toEqual([400, 20]);
    expect(flooded.message).toMatch(/; and 80 more$/);
    for (const field of ['colour', 'from', 'kind', 'limit', 'outcome'])
      expect(body.message).toMatch(new RegExp(`(^|; )${field}: `));
    for (const [query, field] of [
      ['from=2026-02-30', 'from'],
      ['to=2026-04-31T00:00:00Z', 'to'],
      ['from=2026-03-01T24:00:00Z', 'from'],
      ['from=2026-03-01T10:00:00+25:00', 'from'],
      // Beyond what the database's types hold: PostgreSQL had answered these with a 500.
      ['from=0000-01-01T00:00:00Z', 'from'],
      ['from=0001-01-01T00:00:00%2B01:00', 'from'], // year 0 once the offset is applied
      ['to=9999-12-31T23:59:59-01:00', 'to'], // year 10000 once the offset is applied
      ['outcome=nope', 'outcome'], // not an outcome any record has: an empty page would mislead
      ['cursor=' + cursorOf(['2026-12-04T20:15:29.668Z', '9223372036854775808']), 'cursor'],
      ['cursor=' + cursorOf(['+275760-09-13T00:00:00.000Z', '1']), 'cursor'],
    ]) {
      const bad = await get(`/admin/audit?${query}`, reader);
      expect([query, bad.status, ((await bad.json()) as { field: string }).field]).toEqual([
        query,
        400,
        field,
      ]);
    }
    expect((await get('/admin/audit?from=2028-02-29', reader)).status).toBe(200);
    // The export streams every match: a page size or cursor is refused, not silently ignored.
    for (const field of ['limit', 'cursor']) {
      const bad = await get(`/admin/audit/export?${field}=1`, reader);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ field, message: expect.stringContaining('streams every') });
    }
  });

  it('keeps every organisation to its own rows', async () => {
    const res = await get('/admin/audit?limit=500', otherOrg);
    const body = (await res.json()) as { items: Array<{ organizationId: string }> };
    expect(body.items.every((i) => i.organizationId === 'org-other')).toBe(true);
    const mine = (await (await get('/admin/audit?limit=500', reader)).json()) as {
      items: Array<{ organizationId: string }>;
    };
    expect(mine.items.length).toBeGreaterThan(0);
    expect(mine.items.every((i) => i.organizationId === 'org-test')).toBe(true);
  });

  it('streams the same filters as NDJSON and CSV', async () => {
    const nd = await get('/admin/audit/export?format=ndjson&kind=tool_call', reader);
    expect(nd.status).toBe(200);
    expect(nd.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await nd.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; argsDigest: string });
    expect(lines.map((l) => l.action).sort()).toEqual(['json_schema_2020_12_tool', 'test_error_handling']);

    const csv = await get('/admin/audit/export?format=csv&kind=tool_call&outcome=tool_error', reader);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const [header, ...records] = (await csv.text()).trim().split('\r\n');
    expect(header.split(',')).toEqual(expect.arrayContaining(['occurredAt', 'action', 'argsDigest', 'hash']));
    expect(records).toHaveLength(1);
    expect(records[0]).toContain('test_error_handling');
  });

  it('refuses a tool call, a resource read or an admin call whose audit record can be written nowhere: 503, Retry-After, no detail', async () => {
    const writer = started.app.get(AuditWriter);
    await writer.flush();
    // The database refuses the rows of this test's calls, and the spool file's place is taken by a directory.
    await ds.query(
      `CREATE TRIGGER refuse_test_audit BEFORE INSERT ON audit_logs WHEN NEW.request_id LIKE 'e2e-audit-nowhere%'
       BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END`,
    );
    mkdirSync(writer.spoolPath, { recursive: true });
    const call = () =>
      fetch(`${started.url}/mcp`, {
        method: 'POST',
        headers: {
          ...authHeaders(admin),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'server_info',
          'x-request-id': 'e2e-audit-nowhere',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'server_info',
            arguments: {},
            _meta: modernMeta('audit-e2e'),
          },
        }),
      });
    // A resource read is refused the same way: sentia://connectors shows organisation data.
    const read = () =>
      fetch(`${started.url}/mcp`, {
        method: 'POST',
        headers: {
          ...authHeaders(admin),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'resources/read',
          'mcp-name': 'sentia://connectors',
          'x-request-id': 'e2e-audit-nowhere-resource',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'resources/read',
          params: { uri: 'sentia://connectors', _meta: modernMeta('audit-e2e') },
        }),
      });
    let res: Response;
    let text: string;
    let rest: Response;
    let restText: string;
    let resource: Response;
    let resourceText: string;
    try {
      res = await call();
      text = await res.text();
      resource = await read();
      resourceText = await resource.text();
      rest = await get('/admin/audit?limit=1', admin, { 'x-request-id': 'e2e-audit-nowhere-rest' });
      restText = await rest.text();
    } finally {
      await ds.query('DROP TRIGGER refuse_test_audit');
      rmSync(writer.spoolPath, { recursive: true, force: true });
    }
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(text)).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32603,
        message: expect.stringContaining('The audit trail cannot be written right now'),
      },
    });
    expect(text).not.toMatch(/refused by the test|SQLITE|EISDIR|audit_logs|spool/i);
    expect(text).not.toContain('"result"');
    expect(await rows(`request_id = 'e2e-audit-nowhere'`)).toHaveLength(0);
    expect(resource.status).toBe(503);
    expect(resource.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(resourceText)).toMatchObject({
      id: 2,
      error: {
        code: -32603,
        message: expect.stringContaining('The audit trail cannot be written right now'),
      },
    });
    expect(resourceText).not.toMatch(/services|organizationId|refused by the test|SQLITE|EISDIR/i);
    expect(await rows(`request_id = 'e2e-audit-nowhere-resource'`)).toHaveLength(0);
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(restText)).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'audit_unavailable',
      message: 'The audit trail cannot be written right now, so the request was refused. Retry later.',
    });
    expect(restText).not.toMatch(/refused by the test|SQLITE|EISDIR|audit_logs|spool/i);
    // Once either store works again, calls are answered (and audited) as before.
    await writer.replayNow();
    const again = await call();
    expect(again.status).toBe(200);
    expect(again.headers.get('retry-after')).toBeNull();
    expect(await rows(`request_id = 'e2e-audit-nowhere' AND kind = 'tool_call'`)).toHaveLength(1);
    const readAgain = await read();
    expect(readAgain.status).toBe(200);
    expect(await readAgain.text()).toContain('organizationId');
    expect(await rows(`request_id = 'e2e-audit-nowhere-resource' AND kind = 'resource_read'`)).toHaveLength(
      1,
    );
  });

  it('leaves hash chains that verify', async () => {
    await started.app.get(AuditWriter).flush();
    expect(await verifyAuditChains(ds)).toMatchObject({ ok: true });
  });
});
