import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import { jsonRpcError } from '../mcp/json-rpc-error';
import { isMcpPath } from '../rate-limit/rate-limit-decision';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
  expose?: boolean;
  /** The raw body text (set by the JSON parser when it refused it). */
  body?: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

const isMcpRequest = (req: Request) => isMcpPath(req.path);

/** Whether a request says it has a body of at least one byte (a `Content-Length: 0` POST has none). */
const carriesBytes = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;

const bodyError = (type: string): BodyParserError => Object.assign(new Error(type), { type });

/** Whether `text` is JSON at all (the parser refuses valid scalars such as `42` as a syntax error). */
function isJsonText(text: string | undefined): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The answer to a body the parser or the checks refused: never the library's own text. */
function describeBodyError(
  err: BodyParserError,
  limitBytes: number,
  mcp: boolean,
): { status: number; code: string; message: string; rpcCode: number } {
  switch (err.type) {
    case 'entity.too.large':
      return {
        status: 413,
        code: 'body_too_large',
        message: `Request body exceeds the limit of ${limitBytes} bytes`,
        rpcCode: -32600,
      };
    case 'entity.too.many':
      return {
        status: 413,
        code: 'too_many_values',
        message: `Request body holds more than ${MAX_JSON_VALUES} values (object members and array items)`,
        rpcCode: -32600,
      };
    case 'entity.too.deep':
      return {
        status: 400,
        code: 'too_deep',
        message: `Request body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep`,
        rpcCode: -32600,
      };
    case 'entity.parse.failed':
      return isJsonText(err.body)
        ? {
            status: 400,
            code: 'invalid_json',
            // A JSON-RPC batch is an array; a REST body is always one object.
            message: `Request body must be a JSON object${mcp ? ' or array' : ''}`,
            rpcCode: -32600,
          }
        : {
            status: 400,
            code: 'invalid_json',
            message: 'Parse error: request body is not valid JSON',
            rpcCode: -32700,
          };
    case 'encoding.unsupported':
      return {
        status: 415,
        code: 'unsupported_encoding',
        message: 'Unsupported Content-Encoding: use gzip, deflate or br, or none',
        rpcCode: -32600,
      };
    case 'charset.unsupported':
      return {
        status: 415,
        code: 'unsupported_charset',
        message: 'Unsupported charset: a JSON body must be utf-8 (or another UTF encoding)',
        rpcCode: -32600,
      };
    case 'content.type.unsupported':
      return {
        status: 415,
        code: 'unsupported_media_type',
        message: 'Unsupported Media Type: Content-Type must be application/json',
        rpcCode: -32600,
      };
    default:
      return {
        status: 400,
        code: 'unreadable_body',
        message: 'Request body could not be read: it does not match its Content-Encoding or was cut short',
        rpcCode: -32600,
      };
  }
}

/**
 * How deeply a request body's arrays and objects may nest. Far beyond any
 * real tool's arguments or admin body (the JSON-RPC envelope takes 3 levels),
 * and far below what would exhaust the stack of the code that walks a body
 * recursively (validation, the audit digest's canonical JSON).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * How many values (object members and array items, at every depth) a request
 * body may hold. A tool's arguments or an admin body hold dozens to a few
 * thousand; each value costs validation, audit digest and parse time, so a
 * 600 KB body of 60,000 tiny ones took half a second of the event loop.
 */
export const MAX_JSON_VALUES = 20_000;

/**
 * What is wrong with the shape of `value`, if anything: arrays/objects nested
 * more than `maxDepth` levels, or more than `maxValues` values in all.
 * Iterative (no recursion to overflow), and it stops at the first excess.
 */
export function jsonShapeProblem(
  value: unknown,
  maxDepth: number,
  maxValues = Infinity,
): 'too_deep' | 'too_many_values' | undefined {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let values = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxDepth) return 'too_deep';
    const children = Array.isArray(v) ? v : Object.values(v as object);
    values += children.length;
    if (values > maxValues) return 'too_many_values';
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Whether `value` nests arrays/objects more than `max` levels deep. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  return jsonShapeProblem(value, max) === 'too_deep';
}

/** Whether a request's body may be read and parsed (see jsonBodyParser). */
export type MayReadBody = (req: Request) => boolean;

const READ = Symbol('sentia.body.read');
type Marked = Request & { [READ]?: boolean };

/**
 * JSON bodies, bounded by `limitBytes`, MAX_JSON_DEPTH and MAX_JSON_VALUES, read only where
 * `mayRead` says (the app: routes that take a body, for a caller whose key
 * verifies), so a client without a key cannot make the server parse a large
 * body; an unread body is discarded by Node and the route answers as it would
 * (401, 404). A malformed, oversized or too deeply nested body gets a precise
 * answer in the dialect of its route (JSON-RPC on /mcp, a JSON error
 * elsewhere) and never a stack trace.
 */
export function jsonBodyParser(
  limitBytes: number,
  mayRead: MayReadBody = () => true,
): [
  RequestHandler,
  RequestHandler,
  (err: BodyParserError, req: Request, res: Response, next: NextFunction) => void,
] {
  const types = ['application/json', 'application/*+json'];
  const parser = json({ limit: limitBytes, type: types });
  const read: RequestHandler = (req, res, next) => {
    if (!mayRead(req)) return next();
    (req as Marked)[READ] = true;
    // `Expect: 100-continue`: the client sends its body only once told to. Told here, when this body
    // is going to be read (a JSON body within the limit, from a caller whose key verifies), not by
    // Node on arrival: a 401, 413 or 415 then goes out before any of the body is sent.
    if (/^100-continue$/i.test(String(req.headers.expect ?? '')) && req.is(types)) {
      if (Number(req.headers['content-length']) > limitBytes) {
        // Refused unsent: the parser would wait to drain a body the client never sends. The
        // connection cannot carry another request after it, so it closes with this answer.
        res.setHeader('Connection', 'close');
        return next(bodyError('entity.too.large'));
      }
      res.writeContinue();
    }
    parser(req, res, next);
  };
  const check: RequestHandler = (req, _res, next) => {
    if (!(req as Marked)[READ]) return next();
    // A body the JSON parser left alone (another Content-Type, or none) would reach the route as no
    // body at all, and its action would run on defaults: refused instead. /mcp answers this itself.
    if (req.is(types) === false && carriesBytes(req) && !isMcpRequest(req))
      return next(bodyError('content.type.unsupported'));
    if (req.body !== null && typeof req.body === 'object') {
      const problem = jsonShapeProblem(req.body, MAX_JSON_DEPTH, MAX_JSON_VALUES);
      if (problem === 'too_deep') return next(bodyError('entity.too.deep'));
      if (problem === 'too_many_values') return next(bodyError('entity.too.many'));
    }
    next();
  };
  const onError = (err: BodyParserError, req: Request, res: Response, next: NextFunction): void => {
    // Only this parser's errors: a `type`, or http-errors' `expose` (a body that could not be decoded).
    if (!err || (typeof err.type !== 'string' && !(err.expose === true && err.status === 400)))
      return next(err);
    const { status, code, message, rpcCode } = describeBodyError(err, limitBytes, isMcpRequest(req));
    if (isMcpRequest(req)) {
      jsonRpcError(res, status, rpcCode, message);
      return;
    }
    res.status(status).json({ statusCode: status, error: REASONS[status], code, message });
  };
  return [read, check, onError];
}
