/**
 * `Server-Timing` on tool-call responses (SERVER_TIMING, on by default in
 * development and test): `tool` is the tool's own run, `audit` the call's
 * wait for its audit record to be durable, on answers sent as one JSON body
 * (the 2026-07-28 path; a 2025-era session streams its answers as SSE, whose
 * headers leave before the audit wait ends). The `audit` figure follows the
 * writer (a 60 ms batch window shows as >= 60 ms in sync mode and as no wait
 * in async mode); off, no header at all.
 */
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { modernMeta } from '../support/mcp-messages';

const WINDOW_MS = 60;

const META = modernMeta('server-timing-e2e');

/** `Server-Timing` as name -> dur (ms); throws on an entry that is not `name;dur=<number>`. */
function parseServerTiming(header: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of (header ?? '').split(',').filter((e) => e.trim() !== '')) {
    const m = /^\s*([A-Za-z0-9_-]+);dur=(\d+(?:\.\d+)?)\s*$/.exec(entry);
    if (!m) throw new Error(`not a Server-Timing metric: "${entry}"`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

/** A 2026-07-28 (stateless) request; resolves with the response's Server-Timing header and JSON-RPC reply. */
async function modernCall(
  started: StartedApp,
  key: TestKey,
  method: string,
  params: Record<string, unknown>,
) {
  const res = await fetch(`${started.url}/mcp`, {
    method: 'POST',
    headers: {
      ...authHeaders(key),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof params.name === 'string' && { 'mcp-name': params.name }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }),
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('text/event-stream')
    ? (
        text
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .pop() ?? ''
      ).slice(5)
    : text;
  const header = res.headers.get('server-timing');
  return {
    header,
    timing: parseServerTiming(header),
    reply: JSON.parse(json) as { result?: { isError?: boolean } },
  };
}

describe('Server-Timing on tool calls (e2e)', () => {
  describe('on (the test default), sync audit with a batch window', () => {
    let started: StartedApp;
    let key: TestKey;
    beforeAll(async () => {
      started = await startApp({ AUDIT_BATCH_WINDOW_MS: String(WINDOW_MS) });
      key = await TestKey.create(started, { permissions: ['admin'] });
    });
    afterAll(() => started?.close());

    it('reports the tool run and the audit wait on a 2026-07-28 call', async () => {
      const { timing, reply } = await modernCall(started, key, 'tools/call', {
        name: 'server_info',
        arguments: {},
      });
      expect(reply.result?.isError).toBeFalsy();
      expect([...timing.keys()].sort()).toEqual(['audit', 'tool']);
      // The idle writer holds the record for the batch window before writing it: the call waited that long.
      expect(timing.get('audit')).toBeGreaterThanOrEqual(WINDOW_MS - 1);
      expect(timing.get('tool')).toBeLessThan(timing.get('audit')!);
    });

    it('sends no Server-Timing on a request that runs no tool', async () => {
      const { header, reply } = await modernCall(started, key, 'tools/list', {});
      expect(reply.result).toBeDefined();
      expect(header).toBeNull();
    });

    it('reports a failed tool call too', async () => {
      const { timing, reply } = await modernCall(started, key, 'tools/call', {
        name: 'server_info',
        arguments: { unexpected: true },
      });
      expect(reply.result?.isError).toBe(true);
      expect([...timing.keys()].sort()).toEqual(['audit', 'tool']);
    });
  });

  it('shows no audit wait when auditing is asynchronous', async () => {
    const started = await startApp({ AUDIT_MODE: 'async', AUDIT_BATCH_WINDOW_MS: String(WINDOW_MS) });
    try {
      const key = await TestKey.create(started, { permissions: ['admin'] });
      const { timing } = await modernCall(started, key, 'tools/call', { name: 'server_info', arguments: {} });
      expect(timing.get('audit')).toBeLessThan(WINDOW_MS / 2);
    } finally {
      await started.close();
    }
  });

  it('sends no Server-Timing header when SERVER_TIMING is off', async () => {
    const started = await startApp({ SERVER_TIMING: 'false' });
    try {
      const key = await TestKey.create(started, { permissions: ['admin'] });
      const { header, reply } = await modernCall(started, key, 'tools/call', {
        name: 'server_info',
        arguments: {},
      });
      expect(reply.result?.isError).toBeFalsy();
      expect(header).toBeNull();
    } finally {
      await started.close();
    }
  });
});
