import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jsonRpcError, requestIdOf } from './json-rpc-error';

/** A real HTTP server whose one route is `handle`; resolves with its URL. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<[Server, string]> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`];
}

describe('jsonRpcError', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it("answers the status, the request's id and the error, with extra headers and data", async () => {
    let url: string;
    [server, url] = await serve((_req, res) =>
      jsonRpcError(
        res,
        429,
        -32000,
        'Too many',
        { 'Retry-After': '3' },
        { jsonrpc: '2.0', id: 'a', method: 'x' },
        {
          limit: 1,
        },
      ),
    );
    const res = await fetch(url);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      error: { code: -32000, message: 'Too many', data: { limit: 1 } },
    });
  });

  it('once a stream has begun, ends it as it stands: no second status, no error glued onto the events', async () => {
    let url: string;
    [server, url] = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n');
      jsonRpcError(res, 500, -32603, 'Internal error');
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe(
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n',
    );
  });
});

describe('requestIdOf', () => {
  it.each([
    [{ id: 'r1' }, 'r1'],
    [{ id: 7 }, 7],
    [{ id: 2 ** 53 }, null],
    [{ id: 1.5 }, null],
    [{ id: null }, null],
    [[{ id: 1 }], null],
    ['{"id":1}', null],
    [null, null],
  ])('%j -> %j', (body, id) => {
    expect(requestIdOf(body)).toBe(id);
  });
});
