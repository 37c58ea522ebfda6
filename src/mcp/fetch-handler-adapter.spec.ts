import { createServer, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FetchLikeMcpHandler } from '@modelcontextprotocol/node';
import { toNodeHandlerWithoutSignalRegistry } from './fetch-handler-adapter';

/** A real HTTP server whose requests go through the adapter to `handler`; bodies arrive parsed, as from our JSON parser. */
async function serve(handler: FetchLikeMcpHandler, errors: Error[] = []) {
  const adapter = toNodeHandlerWithoutSignalRegistry(handler, (e) => errors.push(e));
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString('utf8')));
    req.on('end', () => {
      (req as typeof req & { auth?: unknown }).auth = { token: 'opaque', clientId: 'k1', scopes: [] };
      void adapter(req, res, text ? JSON.parse(text) : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp?x=1`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'server_info', arguments: {} } };

describe('toNodeHandlerWithoutSignalRegistry', () => {
  it('hands the handler the request (method, URL, headers, JSON body, auth, parsed body) and writes its answer', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const srv = await serve({
      fetch: async (request, options) => {
        seen.push({
          method: request.method,
          url: request.url,
          custom: request.headers.get('x-custom'),
          body: await request.json(),
          options,
          signalAborted: request.signal.aborted,
        });
        return Response.json({ ok: true }, { status: 202, headers: { 'mcp-test': 'yes' } });
      },
    });
    try {
      const res = await fetch(srv.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-custom': 'v' },
        body: JSON.stringify(call),
      });
      expect(res.status).toBe(202);
      expect(res.headers.get('mcp-test')).toBe('yes');
      expect(await res.json()).toEqual({ ok: true });
      expect(seen).toEqual([
        {
          method: 'POST',
          url: expect.stringMatching(/\/mcp\?x=1$/),
          custom: 'v',
          body: call,
          options: { authInfo: { token: 'opaque', clientId: 'k1', scopes: [] }, parsedBody: call },
          signalAborted: false,
        },
      ]);
    } finally {
      await srv.close();
    }
  });

  it("aborts the request's signal when the client goes away mid-stream, and stops writing", async () => {
    let aborted!: () => void;
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    let pulls = 0;
    const srv = await serve({
      fetch: async (request) => {
        request.signal.addEventListener('abort', () => aborted(), { once: true });
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            pulls++;
            await new Promise((r) => setTimeout(r, 20));
            controller.enqueue(new TextEncoder().encode(`data: ${pulls}\n\n`));
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(srv.url, { method: 'POST', headers: { 'content-type': 'application/json' } });
        req.on('response', (res) => {
          res.once('data', () => {
            req.destroy(); // the client disconnects after the first event
            resolve();
          });
        });
        req.on('error', () => undefined);
        req.setTimeout(5_000, () => reject(new Error('no event arrived')));
        req.end(JSON.stringify(call));
      });
      await abortSeen;
      const after = pulls;
      await new Promise((r) => setTimeout(r, 150));
      expect(pulls - after).toBeLessThanOrEqual(1); // at most the pull already under way
    } finally {
      await srv.close();
    }
  });

  it('answers 500 with a JSON-RPC error echoing the id, without the error text, when the handler throws', async () => {
    const errors: Error[] = [];
    const srv = await serve(
      { fetch: () => Promise.reject(new Error('db password=hunter2 exploded')) },
      errors,
    );
    try {
      const res = await fetch(srv.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(call),
      });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        jsonrpc: '2.0',
        error: { code: -32603, message: 'Internal server error' },
        id: 7,
      });
      expect(text).not.toContain('hunter2');
      expect(errors.map((e) => e.message)).toEqual(['db password=hunter2 exploded']);
      // A response (no method) is not answered with its id: the id was the other side's request's.
      const reply = await fetch(srv.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 8, result: {} }),
      });
      expect([reply.status, ((await reply.json()) as { id: unknown }).id]).toEqual([500, null]);
    } finally {
      await srv.close();
    }
  });
});
