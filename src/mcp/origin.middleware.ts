import type { NextFunction, Request, Response } from 'express';
import { isMcpPath } from '../rate-limit/rate-limit-decision';
import { jsonRpcError } from './json-rpc-error';
import { OriginPolicy } from './origin-check';

/** What a browser client may send to /mcp, and read back from its answers. */
const CORS_ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'Accept',
  'Last-Event-ID',
  'Mcp-Session-Id',
  'Mcp-Protocol-Version',
  'Mcp-Method',
  'Mcp-Name',
].join(', ');
const CORS_EXPOSE_HEADERS = ['Mcp-Session-Id', 'WWW-Authenticate', 'Retry-After', 'X-Request-Id'].join(', ');
const CORS_METHODS = 'GET, POST, DELETE';

/**
 * The gate of /mcp before anything else looks at the request (MCP transport
 * security: DNS-rebinding protection). A Host that does not name this server,
 * or a browser Origin we do not trust, gets 403 whether or not a key comes
 * with it: the spec's answer for an invalid Origin, and nothing about keys is
 * told to a page that may not talk to us. A trusted Origin gets CORS headers,
 * and its preflight (`OPTIONS`, which browsers send without credentials) is
 * answered here, so a browser-based client can reach the server.
 */
export function mcpOriginGate(policy: OriginPolicy) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!isMcpPath(req.path)) return next();
    const origin = req.headers.origin;
    const verdict = policy.check(req.headers.host, origin);
    if (!verdict.ok) {
      jsonRpcError(res, 403, -32000, `Forbidden: ${verdict.reason}`);
      return;
    }
    if (origin === undefined) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    res.append('Vary', 'Origin');
    if (req.method !== 'OPTIONS') return next();
    res.writeHead(204, {
      'Access-Control-Allow-Methods': CORS_METHODS,
      'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS,
      'Access-Control-Max-Age': '600',
    });
    res.end();
  };
}
