/**
 * /mcp as real clients see it: the v1 SDK client (2025 era, sessions), the v2
 * client pinned to 2026-07-28 (stateless), a raw 2026-07-28 request, and every
 * bad input the foundation issue names, each with its precise answer.
 */
import { request } from 'node:http';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { DataSource } from 'typeorm';
import { AuditWriter } from '../../src/audit/audit.writer';
import { LegacySessions, SESSION_KEY_PREFIX } from '../../src/mcp/legacy-sessions.service';
import { KeyValueStore } from '../../src/store/key-value-store';
import { ToolPipeline } from '../../src/mcp/tool-pipeline.service';
import { RequestContext } from '../../src/observability/request-context';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { initializeRequest, modernMeta, toolCallRequest } from '../support/mcp-messages';

const INIT = initializeRequest();
const ACCEPT = 'application/json, text/event-stream';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RpcReply = { id?: number; result?: any; error?: { code: number; message: string } };
/** Reads a JSON-RPC reply sent either as JSON or as one SSE message. */
/** Every JSON-RPC reply of a response: one JSON value (or array), or an SSE stream's messages. */
async function rpcAll(res: Response): Promise<RpcReply[]> {
  const text = await res.text();
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return [JSON.parse(text)].flat() as RpcReply[];
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)) as RpcReply);
}

async function rpc(res: Response): Promise<RpcReply> {
  const text = await res.text();
  if (text.trimStart().startsWith('{')) return JSON.parse(text) as RpcReply;
  const data = text.split('\n').find((l) => l.startsWith('data: {'));
  if (!data) throw new Error(`no JSON-RPC message in: ${text.slice(0, 200)}`);
  return JSON.parse(data.slice(6)) as RpcReply;
}

describe('/mcp protocol (e2e)', () => {
  let started: StartedApp;
  let key: TestKey;
  let mcp: string;

  beforeAll(async () => {
    // Limits out of the way: this spec sends well over the default 100 requests a minute from one address.
    started = await startApp({
      MCP_MAX_BODY_BYTES: '4096',
      RATE_LIMIT_IP_MAX: '100000',
      RATE_LIMIT_MAX: '100000',
    });
    key = await TestKey.create(started, { permissions: ['ai:invoke'] });
    mcp = `${started.url}/mcp`;
  });
  afterAll(async () => started?.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(mcp, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT, ...authHeaders(key), ...headers },
      body,
    });

  /** Tool calls audited so far: a refused request must not have run one. */
  const toolRows = async () =>
    Number(
      (
        await started.app
          .get(DataSource)
          .query(`SELECT count(*) AS n FROM audit_logs WHERE kind = 'tool_call'`)
      )[0].n,
    );

  async function openSession(): Promise<string> {
    const res = await post(JSON.stringify(INIT));
    expect(res.status).toBe(200);
    const id = res.headers.get('mcp-session-id');
    expect(id).toBeTruthy();
    await res.text();
    return id!;
  }

  it('serves the v1 SDK client (2025 era): lists and calls server_info', async () => {
    const client = new ClientV1({ name: 'e2e-v1', version: '1.0.0' });
    const transport = new TransportV1(new URL(mcp), { requestInit: { headers: authHeaders(key) } });
    await client.connect(transport);
    expect(transport.sessionId).toBeTruthy();
    const { tools } = await client.listTools();
    const info = tools.find((t) => t.name === 'server_info');
    expect(info?.inputSchema.type).toBe('object');
    const result = await client.callTool({ name: 'server_info', arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ name: 'sentia-mcp', shape: 'embedded' });
    // Every connector module the server loads, found from the tools it registered.
    expect((result.structuredContent as { connectors: string[] }).connectors).toEqual([
      'ai',
      'shopify',
      'unleashed',
      'xero',
    ]);
    expect((result.structuredContent as { protocolVersions: string[] }).protocolVersions).toEqual(
      expect.arrayContaining(['2025-11-25', '2025-06-18', '2026-07-28']),
    );
    await transport.terminateSession();
    await client.close();
  });

  it('serves the v2 client pinned to 2026-07-28 (stateless)', async () => {
    const client = new ClientV2(
      { name: 'e2e-v2', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    const transport = new TransportV2(new URL(mcp), { requestInit: { headers: authHeaders(key) } });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('server_info');
    const result = await client.callTool({ name: 'server_info', arguments: {} });
    expect(result.structuredContent).toMatchObject({ name: 'sentia-mcp' });
    await client.close();
  });

  it('answers a raw 2026-07-28 request with Mcp-Method and Mcp-Name headers, and no session', async () => {
    const meta = modernMeta();
    const res = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'server_info', arguments: {}, _meta: meta },
      }),
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'server_info' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    const body = await rpc(res);
    expect(body.id).toBe(7);
    expect(body.result.structuredContent.name).toBe('sentia-mcp');

    // A header that contradicts the body is refused.
    const mismatch = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'server_info', arguments: {}, _meta: meta },
      }),
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'other_tool' },
    );
    expect(mismatch.status).toBeGreaterThanOrEqual(400);
    const mismatchBody = await rpc(mismatch);
    expect(mismatchBody.error!.code).toBe(-32020);

    // A client that accepts neither JSON nor an event stream is refused (406), as in the 2025 era.
    const listing = JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/list', params: { _meta: meta } });
    const modern = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };
    const html = await post(listing, { ...modern, accept: 'text/html' });
    expect(html.status).toBe(406);
    expect((await rpc(html)).error!.message).toBe('Not Acceptable: Accept must allow application/json');
    for (const accept of ['application/json', '*/*', 'application/json;q=0.5, text/html']) {
      const ok = await post(listing, { ...modern, accept });
      expect([accept, ok.status]).toEqual([accept, 200]);
      await ok.text();
    }

    // server/discover describes the server.
    const discover = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'server/discover', params: { _meta: meta } }),
      {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'server/discover',
      },
    );
    expect(discover.status).toBe(200);
    const discovered = await rpc(discover);
    expect(discovered.result.supportedVersions).toContain('2026-07-28');
  });

  describe('bad inputs get precise errors and the server keeps serving', () => {
    it('malformed JSON → 400 with JSON-RPC parse error -32700', async () => {
      const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
      expect(res.status).toBe(400);
      expect((await rpc(res)).error).toMatchObject({
        code: -32700,
        message: expect.stringContaining('not valid JSON'),
      });
    });

    it('a JSON scalar body → 400 with JSON-RPC invalid request -32600, not a parse error', async () => {
      const res = await post('42');
      expect(res.status).toBe(400);
      expect((await rpc(res)).error).toEqual(
        expect.objectContaining({ code: -32600, message: 'Request body must be a JSON object or array' }),
      );
    });

    it('a message that is not JSON-RPC 2.0 → 400 -32600 saying what is wrong with it', async () => {
      const cases: Array<[unknown, string]> = [
        [{ jsonrpc: '1.0', id: 1, method: 'ping' }, 'Invalid Request: "jsonrpc" must be "2.0" (got "1.0")'],
        [{ id: 1, method: 'ping' }, 'Invalid Request: "jsonrpc" is required and must be "2.0"'],
        [{ jsonrpc: '2.0', id: 1, method: 5 }, 'Invalid Request: "method" must be a non-empty string'],
        [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }, 'Invalid Request: "id" must be a string or an integer'],
        [
          { jsonrpc: '2.0', id: 2 ** 60, method: 'ping' },
          'Invalid Request: "id" must be a string or an integer of at most 2^53 - 1 in magnitude (a larger one ' +
            'cannot be answered exactly; send it as a string)',
        ],
        [
          { jsonrpc: '2.0', id: 1, method: 'ping', params: [1] },
          'Invalid Request: "params" must be an object',
        ],
        [
          { jsonrpc: '2.0', id: 1, result: {}, error: {} },
          'Invalid Request: a response has "result" or "error", not both',
        ],
        [
          { jsonrpc: '2.0', id: 2, method: 'ping', extra: 1 },
          'Invalid Request: unknown member "extra" (a JSON-RPC message has jsonrpc, id, method and params, or result or error)',
        ],
        [
          [{ jsonrpc: '2.0', id: 1, method: 'ping' }, 7],
          'Invalid Request: message 2 of the batch: must be a JSON-RPC object',
        ],
      ];
      for (const [body, message] of cases) {
        const res = await post(JSON.stringify(body));
        const reply = await rpc(res);
        expect([res.status, reply.error]).toEqual([400, { code: -32600, message }]);
        // The error carries the request's id when it has a valid one (the client matches it to its
        // call), else null: a fractional id, a batch.
        const id = (body as { id?: unknown }).id;
        expect(reply.id).toBe(Array.isArray(body) || id === 1.5 || id === 2 ** 60 ? null : id);
      }
    });

    it('empty body → 400 with a JSON-RPC error, in either protocol era', async () => {
      const eras: Record<string, string>[] = [
        {},
        { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
      ];
      for (const headers of eras) {
        const res = await post('', headers);
        expect(res.status).toBe(400);
        expect((await rpc(res)).error).toMatchObject({
          code: -32600,
          message: expect.stringContaining('not a valid JSON-RPC message'),
        });
      }
    });

    it('an initialize without its params → 400 -32602 naming each missing one, not "send initialize first"', async () => {
      const cases: Array<[unknown, string]> = [
        [
          undefined,
          'params.protocolVersion: is required; params.capabilities: is required; params.clientInfo: is required',
        ],
        [
          {},
          'params.protocolVersion: is required; params.capabilities: is required; params.clientInfo: is required',
        ],
        [{ protocolVersion: '2025-11-25', capabilities: {} }, 'params.clientInfo: is required'],
      ];
      for (const [params, problems] of cases) {
        const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params }));
        expect(res.status).toBe(400);
        expect(res.headers.get('mcp-session-id')).toBeNull();
        expect((await rpc(res)).error).toEqual({
          code: -32602,
          message: `Invalid initialize request: ${problems}`,
        });
      }
      // Without an id it is a notification, which opened no session and answered 202.
      const { id: _id, ...notification } = initializeRequest();
      const noId = await post(JSON.stringify(notification));
      expect(noId.status).toBe(400);
      expect(noId.headers.get('mcp-session-id')).toBeNull();
      expect((await rpc(noId)).error).toEqual({
        code: -32602,
        message: 'Invalid initialize request: id: is required (initialize is a request, not a notification)',
      });
    });

    it('serves a JSON-RPC batch to a 2025-03-26 session: every call answered and audited', async () => {
      const open = await post(JSON.stringify(initializeRequest('2025-03-26', 'batcher')));
      expect(open.status).toBe(200);
      expect((await rpc(open)).result.protocolVersion).toBe('2025-03-26');
      const session = open.headers.get('mcp-session-id')!;
      const before = await toolRows();
      // A 2025-03-26 client sends no MCP-Protocol-Version header; a notification rides along.
      const res = await post(
        JSON.stringify([
          toolCallRequest('server_info', 31),
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { jsonrpc: '2.0', id: 32, method: 'tools/list' },
          { jsonrpc: '2.0', id: 33, method: 'no/such-method' },
          toolCallRequest('server_info', 34),
        ]),
        { 'mcp-session-id': session },
      );
      expect(res.status).toBe(200);
      const replies = await rpcAll(res);
      const byId = new Map(replies.map((r) => [r.id, r]));
      expect([...byId.keys()].sort()).toEqual([31, 32, 33, 34]);
      expect(byId.get(31)!.result.structuredContent.name).toBe('sentia-mcp');
      expect(byId.get(32)!.result.tools.map((t: { name: string }) => t.name)).toContain('server_info');
      // One message's error leaves the others be, and names the method.
      expect(byId.get(33)!.error).toEqual({ code: -32601, message: 'Method not found: no/such-method' });
      expect(byId.get(34)!.result.structuredContent.name).toBe('sentia-mcp');
      await started.app.get(AuditWriter).flush();
      expect(await toolRows()).toBe(before + 2); // the two tools/call, each on its own row
    });

    it('refuses a batch that cancels a request it carries, which would never be answered', async () => {
      const open = await post(JSON.stringify(initializeRequest('2025-03-26', 'canceller')));
      expect(open.status).toBe(200);
      await open.text();
      const session = open.headers.get('mcp-session-id')!;
      const cancel = (requestId: number) => ({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId, reason: 'changed my mind' },
      });
      // Served, the answer to a batch waits for each of its requests: this one stayed open, empty.
      const refused = await fetch(mcp, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: ACCEPT,
          ...authHeaders(key),
          'mcp-session-id': session,
        },
        body: JSON.stringify([{ jsonrpc: '2.0', id: 41, method: 'ping' }, cancel(41)]),
        signal: AbortSignal.timeout(5_000),
      });
      expect(refused.status).toBe(400);
      expect((await rpc(refused)).error).toEqual({
        code: -32600,
        message:
          'Invalid Request: message 2 of the batch cancels request 41 of the same batch, which would then never be answered; ' +
          'send a cancellation in a request of its own',
      });
      // Cancelling a request of another POST (here one long answered) rides along as before.
      const served = await post(JSON.stringify([{ jsonrpc: '2.0', id: 42, method: 'ping' }, cancel(40)]), {
        'mcp-session-id': session,
      });
      expect(served.status).toBe(200);
      expect(await rpcAll(served)).toEqual([{ jsonrpc: '2.0', id: 42, result: {} }]);
    });

    it('refuses any other JSON-RPC batch (400 -32600, naming why): no call in it runs', async () => {
      const id = await openSession(); // 2025-11-25
      const before = await toolRows();
      const calls = [toolCallRequest('server_info', 21), toolCallRequest('server_info', 22)];
      const modernCalls = calls.map((c) => ({ ...c, params: { ...c.params, _meta: modernMeta() } }));
      const cases: Array<[string, unknown, Record<string, string>, string]> = [
        [
          'a 2025-11-25 session',
          calls,
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
          'Invalid Request: JSON-RPC batches belong to MCP 2025-03-26 and older; MCP-Protocol-Version "2025-11-25" sends one message per request',
        ],
        [
          'a revision this server does not serve',
          calls,
          { 'mcp-session-id': id, 'mcp-protocol-version': '1999-01-01' },
          'Invalid Request: unsupported MCP-Protocol-Version "1999-01-01" (this server serves 2025-11-25, 2025-06-18, ' +
            '2025-03-26, 2024-11-05, 2024-10-07, 2026-07-28; JSON-RPC batches only 2025-03-26, 2024-11-05, 2024-10-07)',
        ],
        [
          '2026-07-28 envelopes',
          modernCalls,
          {},
          'Invalid Request: MCP 2026-07-28 sends one message per request, not a batch',
        ],
        [
          'a 2025-11-25 session without the header',
          calls,
          { 'mcp-session-id': id },
          'Invalid Request: this session speaks MCP 2025-11-25, which sends one message per request; JSON-RPC batches belong to 2025-03-26 and older',
        ],
        [
          'a repeated request id',
          [
            calls[0],
            { jsonrpc: '2.0', method: 'notifications/initialized' },
            toolCallRequest('server_info', 21),
          ],
          { 'mcp-session-id': id },
          'Invalid Request: message 3 of the batch reuses the id 21 of an earlier request in it',
        ],
        [
          'an element that is no message',
          [calls[0], { jsonrpc: '2.0', id: 3 }],
          {},
          'Invalid Request: message 2 of the batch: has neither "method" (a request or notification) nor "result" or "error" (a response)',
        ],
        ['an empty batch', [], { 'mcp-session-id': id }, 'Invalid Request: an empty JSON-RPC batch'],
        [
          'initialize in a batch',
          [initializeRequest('2025-03-26'), calls[0]],
          {},
          'Invalid Request: initialize must not be part of a JSON-RPC batch; send it alone to open a session',
        ],
        [
          '101 messages',
          Array(101).fill(0), // counted before anything in it is read (and small: this app takes 4 KB)
          { 'mcp-session-id': id },
          'Invalid Request: a JSON-RPC batch may hold at most 100 messages (this one holds 101)',
        ],
      ];
      for (const [name, body, headers, message] of cases) {
        const res = await post(JSON.stringify(body), headers);
        expect([name, res.status, (await rpc(res)).error]).toEqual([name, 400, { code: -32600, message }]);
      }
      // A session record written before the negotiated revision was kept names none: no batch either.
      const store = started.app.get(KeyValueStore);
      const unversioned = await openSession();
      const record = JSON.parse((await store.get(SESSION_KEY_PREFIX + unversioned))!);
      delete record.protocolVersion;
      await store.set(SESSION_KEY_PREFIX + unversioned, JSON.stringify(record), { ttlMs: 60_000 });
      const old = await post(JSON.stringify(calls), { 'mcp-session-id': unversioned });
      expect([old.status, (await rpc(old)).error]).toEqual([
        400,
        {
          code: -32600,
          message:
            'Invalid Request: this session speaks MCP 2025-06-18 or later, which sends one message per request; ' +
            'JSON-RPC batches belong to 2025-03-26 and older',
        },
      ]);
      // Without a session, a 2025-03-26 batch is told to initialize first.
      const sessionless = await post(JSON.stringify(calls));
      expect(sessionless.status).toBe(400);
      expect((await rpc(sessionless)).error!.message).toContain('Mcp-Session-Id header is required');
      await started.app.get(AuditWriter).flush();
      expect(await toolRows()).toBe(before);
    });

    it('a revision this server does not serve, on any request, is 400 -32022 listing every revision served: nothing runs', async () => {
      const id = await openSession(); // 2025-11-25
      const before = await toolRows();
      const call = toolCallRequest('server_info', 31);
      const modernCall = { ...call, params: { ...call.params, _meta: modernMeta() } };
      const served = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07', '2026-07-28'];
      const cases: Array<[string, () => Promise<Response>, string]> = [
        // The SDK took a future date for 2026-07-28 and asked for its _meta envelope.
        [
          'a future revision, sessionless',
          () => post(JSON.stringify(call), { 'mcp-protocol-version': '2099-01-01' }),
          '2099-01-01',
        ],
        [
          'a 2026 envelope naming another revision',
          () => post(JSON.stringify(modernCall), { 'mcp-protocol-version': '2026-01-01' }),
          '2026-01-01',
        ],
        [
          'an unknown revision in a session',
          () => post(JSON.stringify(call), { 'mcp-session-id': id, 'mcp-protocol-version': '2025-12-01' }),
          '2025-12-01',
        ],
        [
          'a session GET',
          () =>
            fetch(mcp, {
              headers: {
                accept: 'text/event-stream',
                ...authHeaders(key),
                'mcp-session-id': id,
                'mcp-protocol-version': 'latest',
              },
            }),
          'latest',
        ],
      ];
      for (const [name, send, requested] of cases) {
        const res = await send();
        const { error } = (await res.json()) as { error: { code: number; message: string; data: unknown } };
        expect([name, res.status, error]).toEqual([
          name,
          400,
          {
            code: -32022,
            message: `Unsupported protocol version: MCP-Protocol-Version "${requested}" is not served here (this server serves ${served.join(', ')})`,
            data: { supported: served, requested },
          },
        ]);
      }
      // The session is still there, and a served revision goes through.
      const ok = await post(JSON.stringify(call), {
        'mcp-session-id': id,
        'mcp-protocol-version': '2025-11-25',
      });
      expect((await rpc(ok)).result.structuredContent).toMatchObject({ name: 'sentia-mcp' });
      await started.app.get(AuditWriter).flush();
      expect(await toolRows()).toBe(before + 1);
    });

    it('wrong content type → 415', async () => {
      const res = await post(JSON.stringify(INIT), { 'content-type': 'text/plain' });
      expect(res.status).toBe(415);
      expect((await rpc(res)).error!.message).toContain('application/json');
    });

    it('missing Accept → 406', async () => {
      const res = await post(JSON.stringify(INIT), { accept: 'application/json' });
      expect(res.status).toBe(406);
      expect(JSON.stringify(await rpc(res))).toContain('text/event-stream');
    });

    it('unknown session → 404, and a request without a session → 400', async () => {
      const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), {
        'mcp-session-id': '00000000-0000-4000-8000-000000000000',
      });
      expect(unknown.status).toBe(404);
      expect((await rpc(unknown)).error!.message).toMatch(/Session not found/);
      const none = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
      expect(none.status).toBe(400);
      expect((await rpc(none)).error!.message).toMatch(/Mcp-Session-Id/);
    });

    it('DELETE ends a session; the ended session is then unknown', async () => {
      const id = await openSession();
      const del = await fetch(mcp, {
        method: 'DELETE',
        headers: { 'mcp-session-id': id, ...authHeaders(key) },
      });
      expect(del.status).toBe(200);
      const after = await post(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }), {
        'mcp-session-id': id,
      });
      expect(after.status).toBe(404);
    });

    it('a session whose record is gone (ended elsewhere, unannounced) closes here at its next request, GET stream and all', async () => {
      const id = await openSession();
      const sessions = started.app.get(LegacySessions);
      const stream = await fetch(mcp, {
        method: 'GET',
        headers: { accept: 'text/event-stream', 'mcp-session-id': id, ...authHeaders(key) },
        signal: AbortSignal.timeout(10_000), // only so that a stream left open fails here, not at the test's timeout
      });
      expect(stream.status).toBe(200);
      const streamEnd = stream.text().then(
        () => 'ended',
        (e: Error) => `still open (${e.name})`,
      );
      const live = sessions.size;
      await started.app.get(KeyValueStore).del(SESSION_KEY_PREFIX + id);
      const after = await post(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }), {
        'mcp-session-id': id,
      });
      expect(after.status).toBe(404);
      await after.text();
      expect(sessions.size).toBe(live - 1);
      expect(await streamEnd).toBe('ended');
    });

    it("a Last-Event-ID of another session, an expired one or one never sent → 400 saying so, not 'invalid format'", async () => {
      /** A 2025-11-25 session and the id of its initialize answer's last SSE event. */
      const opened = async () => {
        const res = await post(JSON.stringify(INIT));
        const id = res.headers.get('mcp-session-id')!;
        const eventId = [...(await res.text()).matchAll(/^id: (\S+)$/gm)].pop()![1];
        return { id, eventId };
      };
      const first = await opened();
      const second = await opened();
      const resume = (session: string, lastEventId: string) =>
        fetch(mcp, {
          headers: {
            accept: 'text/event-stream',
            'mcp-session-id': session,
            'last-event-id': lastEventId,
            ...authHeaders(key),
          },
          signal: AbortSignal.timeout(5_000),
        });
      for (const [session, eventId] of [
        [second.id, first.eventId],
        [first.id, `${first.eventId.replace(/_[^_]+$/, '')}_00000000`],
        [first.id, 'garbage'],
      ]) {
        const res = await resume(session, eventId);
        expect([eventId, res.status]).toEqual([eventId, 400]);
        expect((await rpc(res)).error!.message).toBe(
          'Bad Request: Last-Event-ID names no event of this session (it expired, or was not sent on it)',
        );
      }
      // The session's own event id resumes its stream.
      const own = await resume(first.id, first.eventId);
      expect(own.status).toBe(200);
      expect(own.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await own.body!.cancel();
    });

    it('serves an older client the revision it asks for, and server_info lists every revision it serves', async () => {
      const res = await post(JSON.stringify(initializeRequest('2025-03-26')));
      expect(res.status).toBe(200);
      const served = (await rpc(res)).result.protocolVersion as string;
      expect(served).toBe('2025-03-26');
      const session = {
        'mcp-session-id': res.headers.get('mcp-session-id')!,
        'mcp-protocol-version': served,
      };
      await (
        await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session)
      ).text();
      const info = await post(JSON.stringify(toolCallRequest('server_info', 2)), session);
      const listed = (await rpc(info)).result.structuredContent.protocolVersions as string[];
      expect(listed).toEqual(expect.arrayContaining(['2026-07-28', '2025-11-25', '2025-06-18', served]));
    });

    it('a list request with a cursor this server never issued → -32602, in both eras', async () => {
      const id = await openSession();
      const session = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' };
      await (
        await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session)
      ).text();
      for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
        const res = await post(
          JSON.stringify({ jsonrpc: '2.0', id: 5, method, params: { cursor: '!!garbage!!' } }),
          session,
        );
        expect([method, (await rpc(res)).error]).toEqual([
          method,
          { code: -32602, message: expect.stringContaining('Invalid cursor') },
        ]);
      }
      const meta = modernMeta();
      const modern = await post(
        JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/list', params: { cursor: 'x', _meta: meta } }),
        { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      );
      expect((await rpc(modern)).error).toMatchObject({
        code: -32602,
        message: expect.stringContaining('Invalid cursor'),
      });
      // Without a cursor, the whole list.
      const plain = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }), session);
      expect((await rpc(plain)).result.tools.map((t: { name: string }) => t.name)).toContain('server_info');
    });

    it('evil Origin or Host → 403 (DNS rebinding protection)', async () => {
      const origin = await post(JSON.stringify(INIT), { origin: 'http://evil.example.com' });
      expect(origin.status).toBe(403);
      expect((await rpc(origin)).error!.message).toMatch(/Origin/);
      // fetch may not set Host, so this one goes through node:http.
      const host = await new Promise<number>((resolve, reject) => {
        const req = request(
          mcp,
          {
            method: 'POST',
            headers: {
              host: 'evil.example.com',
              'content-type': 'application/json',
              accept: ACCEPT,
              ...authHeaders(key),
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(INIT));
      });
      expect(host).toBe(403);
      const ok = await post(JSON.stringify(INIT), { origin: 'http://localhost:5173' });
      expect(ok.status).toBe(200);
      // A trusted browser origin may read the answer and its session id.
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(ok.headers.get('access-control-expose-headers')).toMatch(/Mcp-Session-Id/);
      await ok.text();
    });

    it('a foreign Origin or Host gets 403 before any key is looked at: no 401 for a page to probe', async () => {
      const noKey = await fetch(mcp, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, origin: 'https://evil.example' },
        body: JSON.stringify(INIT),
      });
      expect(noKey.status).toBe(403);
      expect(noKey.headers.get('www-authenticate')).toBeNull();
      expect(noKey.headers.get('access-control-allow-origin')).toBeNull();
      expect((await rpc(noKey)).error).toEqual({
        code: -32000,
        message: 'Forbidden: Origin is not allowed for this server',
      });
      const badHost = await new Promise<number>((resolve, reject) => {
        const req = request(mcp, { method: 'GET', headers: { host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(badHost).toBe(403);
      // `/mcp/` is routed to the same endpoint, so it has the same gate; `/MCP` is no route (404).
      const slash = await fetch(`${mcp}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: ACCEPT,
          ...authHeaders(key),
          origin: 'https://evil.example',
        },
        body: JSON.stringify(INIT),
      });
      expect([slash.status, (await rpc(slash)).error?.message]).toEqual([
        403,
        'Forbidden: Origin is not allowed for this server',
      ]);
      const served = await fetch(`${mcp}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, ...authHeaders(key) },
        body: JSON.stringify(INIT),
      });
      expect(served.status).toBe(200);
      await served.text();
      const upper = await fetch(`${started.url}/MCP`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, origin: 'https://evil.example' },
        body: JSON.stringify(INIT),
      });
      expect(upper.status).toBe(404);
      await upper.text();
      // A trusted origin without a key is still refused by the key check.
      const trusted = await fetch(mcp, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, origin: 'http://localhost:5173' },
        body: JSON.stringify(INIT),
      });
      expect(trusted.status).toBe(401);
      expect(trusted.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      await trusted.text();
    });

    it('answers the CORS preflight of a trusted origin without a key, and refuses a foreign one', async () => {
      const preflight = (origin: string) =>
        fetch(mcp, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
          },
        });
      const ok = await preflight('http://localhost:6274');
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
      expect(ok.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
      const allowed = ok.headers.get('access-control-allow-headers')!.toLowerCase();
      for (const h of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id'])
        expect(allowed).toContain(h);
      const evil = await preflight('https://evil.example');
      expect(evil.status).toBe(403);
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      await evil.text();
    });

    it('oversized body → 413 naming the limit', async () => {
      const big = JSON.stringify({ ...INIT, params: { ...INIT.params, pad: 'x'.repeat(5000) } });
      const res = await post(big);
      expect(res.status).toBe(413);
      expect((await rpc(res)).error!.message).toContain('4096 bytes');
      // 4096 bytes exactly are read (a ping, padded with spaces); one more is refused.
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 61, method: 'ping' });
      const padded = (bytes: number) => ping + ' '.repeat(bytes - ping.length);
      const over = await post(padded(4097));
      expect([over.status, (await rpc(over)).error?.message]).toEqual([
        413,
        'Request body exceeds the limit of 4096 bytes',
      ]);
      const at = await post(padded(4096), { 'mcp-session-id': await openSession() });
      expect([at.status, (await rpc(at)).result]).toEqual([200, {}]);
    });

    it('invalid tool arguments → isError result naming the argument path', async () => {
      const id = await openSession();
      const call = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 5,
          method: 'tools/call',
          params: { name: 'server_info', arguments: { unexpected: 1 } },
        }),
        { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
      );
      const payload = await rpc(call);
      expect(payload.result.isError).toBe(true);
      expect(payload.result.content[0].text).toMatch(/Invalid arguments for tool "server_info"/);
      expect(payload.result.content[0].text).toMatch(/unexpected/);
    });

    it('arguments nested past the depth limit → 400 naming it; at the limit they reach the tool', async () => {
      const id = await openSession();
      const nest = (levels: number) => {
        let v: unknown = 1;
        for (let i = 0; i < levels; i++) v = { a: v };
        return v;
      };
      const callWith = (levels: number) =>
        post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 9,
            method: 'tools/call',
            params: { name: 'server_info', arguments: nest(levels) },
          }),
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        );
      // The message and its params take 2 levels: arguments of 62 levels make 64 in all.
      const within = await rpc(await callWith(62));
      expect(within.result.isError).toBe(true);
      expect(within.result.content[0].text).toMatch(/Invalid arguments for tool "server_info"/);
      for (const levels of [63, 600]) {
        const res = await callWith(levels);
        expect(res.status).toBe(400);
        expect((await rpc(res)).error).toEqual(
          expect.objectContaining({
            code: -32600,
            message: 'Request body nests arrays or objects more than 64 levels deep',
          }),
        );
      }
    });

    it('params that fail the protocol schema → -32602 naming each field in one line, in both eras', async () => {
      const id = await openSession();
      const legacy = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 12,
            method: 'tools/call',
            params: { name: 123, arguments: 'str' },
          }),
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        ),
      );
      expect(legacy.error).toEqual({
        code: -32602,
        message:
          'Invalid tools/call request: params.name: expected string, received number; params.arguments: expected record, received string',
      });
      const complete = await rpc(
        await post(JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'completion/complete', params: {} }), {
          'mcp-session-id': id,
          'mcp-protocol-version': '2025-11-25',
        }),
      );
      expect(complete.error).toEqual({
        code: -32602,
        message: 'Invalid request: params.ref: is required; params.argument: is required',
      });
      const meta = modernMeta();
      const modern = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 14,
            method: 'tools/call',
            params: { name: 123, _meta: meta },
          }),
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
        ),
      );
      expect(modern.error!.code).toBe(-32602);
      expect(modern.error!.message).not.toContain('\n');
      expect(modern.error!.message).toContain('params.name: expected string, received number');
    });

    it('an unknown method → -32601 naming it (in part, when long), in both eras', async () => {
      const id = await openSession();
      const legacy = await rpc(
        await post(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/cal' }), {
          'mcp-session-id': id,
          'mcp-protocol-version': '2025-11-25',
        }),
      );
      expect(legacy.error).toEqual({ code: -32601, message: 'Method not found: tools/cal' });
      const modern = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 9,
            method: 'x'.repeat(500),
            params: { _meta: modernMeta('m') },
          }),
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'x'.repeat(500) },
        ),
      );
      expect(modern.error).toEqual({ code: -32601, message: `Method not found: ${'x'.repeat(100)}...` });
    });

    it('a method of the other protocol era → -32601 naming it and the method this era uses instead', async () => {
      const id = await openSession();
      const legacy = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 10,
            method: 'subscriptions/listen',
            params: { resourceSubscriptions: ['sentia://connectors/status'] },
          }),
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        ),
      );
      expect(legacy.error).toEqual({
        code: -32601,
        message:
          "Method not found: subscriptions/listen is a protocol 2026-07-28 method, not one of this 2025-era session's; " +
          'use resources/subscribe, with updates on the session GET stream',
      });
      const modernRes = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 11,
          method: 'resources/subscribe',
          params: { uri: 'sentia://connectors/status', _meta: modernMeta('m') },
        }),
        { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/subscribe' },
      );
      expect(modernRes.status).toBe(404);
      const modern = await rpc(modernRes);
      expect(modern.error).toEqual({
        code: -32601,
        message:
          'Method not found: resources/subscribe is not in protocol 2026-07-28 (only in the 2025-era revisions); ' +
          'use subscriptions/listen',
      });
    });

    it('a long URI that names no resource is named back in part only, in the message and in data.uri', async () => {
      const id = await openSession();
      const session = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' };
      const uri = `sentia://${'u'.repeat(3000)}`;
      const named = `${uri.slice(0, 100)}...`;
      for (const [n, method] of [
        [11, 'resources/read'],
        [12, 'resources/subscribe'],
      ] as const) {
        const res = await post(JSON.stringify({ jsonrpc: '2.0', id: n, method, params: { uri } }), session);
        const text = await res.text();
        expect([method, text.length < 600]).toEqual([method, true]);
        const reply = JSON.parse(
          text
            .split('\n')
            .find((l) => l.startsWith('data: {'))!
            .slice(6),
        ) as RpcReply;
        expect(reply.error).toEqual({
          code: -32602,
          message: `Resource not found: ${named}`,
          data: { uri: named },
        });
      }
      // A short one is named whole.
      const short = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 13,
            method: 'resources/read',
            params: { uri: 'sentia://nope' },
          }),
          session,
        ),
      );
      expect(short.error).toEqual({
        code: -32602,
        message: 'Resource not found: sentia://nope',
        data: { uri: 'sentia://nope' },
      });
    });

    it('an unknown tool is a JSON-RPC invalid-params error', async () => {
      const id = await openSession();
      const call = await post(JSON.stringify(toolCallRequest('no_such_tool', 6)), {
        'mcp-session-id': id,
        'mcp-protocol-version': '2025-11-25',
      });
      const payload = await rpc(call);
      expect(payload.error!.code).toBe(-32602);
      expect(payload.error!.message).toContain('no_such_tool');
      // A long name is echoed in part: the answer (kept by the session for replay) stays small.
      const long = await rpc(
        await post(
          JSON.stringify({
            jsonrpc: '2.0',
            id: 7,
            method: 'tools/call',
            params: { name: 'n'.repeat(3_000), arguments: {} },
          }),
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        ),
      );
      expect(long.error!.message).toBe(`Unknown tool: ${'n'.repeat(100)}...`);
      // Both calls are audited, as every tool call is; metrics count them under one label.
      const rows: Array<Record<string, unknown>> = await started.app
        .get(DataSource)
        .query(
          `SELECT action, outcome, error_code, key_id FROM audit_logs WHERE outcome = 'unknown_tool' ORDER BY id`,
        );
      expect(rows).toEqual([
        { action: 'no_such_tool', outcome: 'unknown_tool', error_code: 'unknown_tool', key_id: key.keyId },
        {
          action: `${'n'.repeat(100)}...`,
          outcome: 'unknown_tool',
          error_code: 'unknown_tool',
          key_id: key.keyId,
        },
      ]);
      const metrics = await (await fetch(`${started.url}/metrics`)).text();
      expect(metrics).toMatch(/mcp_tool_calls_total\{tool="unknown",outcome="unknown_tool"\} 2/);
      expect(metrics).not.toContain('no_such_tool');
    });

    it('a fault of ours after the tool ran → -32603 naming the request id, never the fault', async () => {
      // A pipeline hook that faults with an engine error for one request only.
      started.app.get(ToolPipeline).addHook({
        afterCall: () =>
          RequestContext.requestId() === 'e2e-hook-fault'
            ? Promise.reject(new RangeError('Maximum call stack size exceeded'))
            : Promise.resolve(),
      });
      const id = await openSession();
      const res = await post(JSON.stringify(toolCallRequest('server_info', 11)), {
        'mcp-session-id': id,
        'mcp-protocol-version': '2025-11-25',
        'x-request-id': 'e2e-hook-fault',
      });
      const text = await res.text();
      expect(text).not.toMatch(/call stack|RangeError|"result"/);
      expect((await rpc(new Response(text))).error).toEqual({
        code: -32603,
        message: 'Internal error; quote request id e2e-hook-fault when reporting it',
      });
    });

    it('still serves after all of the above', async () => {
      const res = await fetch(`${started.url}/health`);
      expect(res.status).toBe(200);
      await openSession();
    });
  });
});

describe('/mcp sessions per key (MCP_MAX_SESSIONS_PER_KEY)', () => {
  it('keeps at most the cap live per key, closing the least recently used, which is still served', async () => {
    const app = await startApp({ MCP_MAX_SESSIONS_PER_KEY: '2' });
    try {
      const key = await TestKey.create(app, { permissions: ['ai:invoke'] });
      const other = await TestKey.create(app, { permissions: ['ai:invoke'] });
      const post = (k: TestKey, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${app.url}/mcp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: ACCEPT, ...authHeaders(k), ...headers },
          body: JSON.stringify(body),
        });
      const open = async (k: TestKey) => {
        const res = await post(k, INIT);
        expect(res.status).toBe(200);
        await res.text();
        return res.headers.get('mcp-session-id')!;
      };
      const sessions = app.app.get(LegacySessions);
      const liveHere = (id: string) => (sessions as unknown as { live: Map<string, unknown> }).live.has(id);
      const first = await open(key);
      const second = await open(key);
      // The first is then used again (a millisecond on at least): the second is the least recently used.
      await new Promise((r) => setTimeout(r, 5));
      const ping = await post(key, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': first });
      expect(ping.status).toBe(200);
      await ping.text();
      const third = await open(key);
      await open(other);
      // Two of `key` and the other key's one: the least recently used of `key` was closed on this instance.
      expect(sessions.size).toBe(3);
      expect([first, second, third].map(liveHere)).toEqual([true, false, true]);
      const call = await post(
        key,
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'server_info', arguments: {} } },
        { 'mcp-session-id': second, 'mcp-protocol-version': '2025-11-25' },
      );
      expect(call.status).toBe(200);
      expect((await rpc(call)).result.structuredContent).toMatchObject({ name: 'sentia-mcp' });
    } finally {
      await app.close();
    }
  });
});
