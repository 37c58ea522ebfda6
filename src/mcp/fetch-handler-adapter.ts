import type { ServerResponse } from 'node:http';
import { FetchLikeMcpHandler, NodeMcpRequestHandler, toWebRequest } from '@modelcontextprotocol/node';
import { RequestContext } from '../observability/request-context';

/**
 * Serves Node requests with a fetch-style MCP handler, as the SDK's
 * `toNodeHandler` does (same conversion, through the SDK's own
 * `toWebRequest`; same response writing, with write backpressure and a stop
 * when the client goes away), with one difference: the web `Request` is
 * built without `signal`, and the signal that aborts when the client
 * disconnects is set as the request's own `signal` property, which is where
 * the SDK reads it.
 *
 * Why: Node's fetch implementation (undici) registers every `Request` built
 * with a signal in a FinalizationRegistry and behind a WeakRef, so each
 * request's objects survive young-generation collections and are promoted
 * (see docs/design.md, "Garbage collection"). Building such Requests in a
 * loop, with a signal halved their rate and tripled scavenge time.
 *
 * The body must come parsed (`parsedBody`): the SDK then never clones the
 * request, so nothing reads the shadowed signal from a copy.
 */
export function toNodeHandlerWithoutSignalRegistry(
  handler: FetchLikeMcpHandler,
  onerror: (e: Error) => void,
): NodeMcpRequestHandler {
  return async (req, nodeRes, parsedBody) => {
    const res = nodeRes as unknown as ServerResponse;
    let finished = false;
    const abort = new AbortController();
    res.on('close', () => {
      if (!finished) abort.abort();
    });
    if (res.destroyed) abort.abort();

    let response: Response;
    try {
      if (parsedBody === undefined) throw new Error('the MCP adapter needs a parsed JSON body');
      const request = await toWebRequest(req, parsedBody);
      Object.defineProperty(request, 'signal', { value: abort.signal, configurable: true });
      response = await handler.fetch(request, {
        ...(req.auth !== undefined && { authInfo: req.auth }),
        parsedBody,
      });
    } catch (e) {
      onerror(e instanceof Error ? e : new Error(String(e)));
      response = Response.json(
        {
          jsonrpc: '2.0',
          error: { code: -32603, message: 'Internal server error' },
          id: echoableId(parsedBody),
        },
        { status: 500 },
      );
    }

    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    let status = response.status;
    // The call was refused for unavailability (McpServerFactory): a single JSON answer says so in its
    // status too, so clients and load balancers can retry; a stream's status has no such meaning.
    const retryAfter = RequestContext.current()?.unavailableRetryAfterSeconds;
    if (
      retryAfter !== undefined &&
      status === 200 &&
      /^application\/json/i.test(headers['content-type'] ?? '')
    ) {
      status = 503;
      headers['retry-after'] = String(retryAfter);
    }
    res.writeHead(status, headers);
    if (response.body === null) {
      finished = true;
      res.end();
      return;
    }
    // A streamed (SSE) answer: wait for 'drain' when the socket is full, stop when the client has gone.
    let drained: (() => void) | undefined;
    res.on('drain', () => {
      drained?.();
      drained = undefined;
    });
    const closed = new Promise<void>((resolve) =>
      abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      for await (const chunk of response.body) {
        if (abort.signal.aborted) break;
        if (!res.write(chunk)) await Promise.race([new Promise<void>((r) => (drained = r)), closed]);
      }
    } catch {
      // The stream failed or the client went away: end the response either way.
    }
    finished = true;
    res.end();
  };
}

/** The JSON-RPC id to echo on an error answer: a single request's string or number id, else null. */
function echoableId(body: unknown): string | number | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const { method, id } = body as { method?: unknown; id?: unknown };
  if (typeof method !== 'string') return null;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
