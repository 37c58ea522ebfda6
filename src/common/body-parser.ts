import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import { jsonRpcError } from '../mcp/json-rpc-error';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * How deeply a request body's arrays and objects may nest. Far beyond any
 * real tool's arguments or admin body (the JSON-RPC envelope takes 3 levels),
 * and far below what would exhaust the stack of the code that walks a body
 * recursively (validation, the audit digest's canonical JSON).
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays/objects more than `max` levels deep (iterative: no recursion to overflow). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * JSON bodies for every route, bounded by `limitBytes` and MAX_JSON_DEPTH. A
 * malformed, oversized or too deeply nested body gets a precise answer in the
 * dialect of its route (JSON-RPC on /mcp, a JSON error elsewhere) and never a
 * stack trace.
 */
export function jsonBodyParser(
  limitBytes: number,
): [
  RequestHandler,
  RequestHandler,
  (err: BodyParserError, req: Request, res: Response, next: NextFunction) => void,
] {
  const parser = json({ limit: limitBytes, type: ['application/json', 'application/*+json'] });
  const depthCheck: RequestHandler = (req, _res, next) => {
    if (req.body === null || typeof req.body !== 'object' || !nestsDeeperThan(req.body, MAX_JSON_DEPTH)) {
      return next();
    }
    next(Object.assign(new Error('too deep'), { type: 'entity.too.deep' }));
  };
  const onError = (err: BodyParserError, req: Request, res: Response, next: NextFunction): void => {
    if (!err || typeof err.type !== 'string') return next(err);
    const mcp = req.path === '/mcp' || req.path.startsWith('/mcp/');
    let status = 400;
    let message = 'Request body could not be read';
    let rpcCode = -32600;
    if (err.type === 'entity.too.large') {
      status = 413;
      message = `Request body exceeds the limit of ${limitBytes} bytes`;
    } else if (err.type === 'entity.too.deep') {
      message = `Request body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep`;
    } else if (err.type === 'entity.parse.failed') {
      message = 'Parse error: request body is not valid JSON';
      rpcCode = -32700;
    } else if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
      status = 415;
      message = 'Unsupported body encoding or charset';
    }
    if (mcp) {
      jsonRpcError(res, status, rpcCode, message);
      return;
    }
    res
      .status(status)
      .json({ statusCode: status, error: status === 413 ? 'Payload Too Large' : 'Bad Request', message });
  };
  return [parser, depthCheck, onError];
}
