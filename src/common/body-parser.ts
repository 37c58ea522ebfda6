import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import { jsonRpcError } from '../mcp/json-rpc-error';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

/**
 * JSON bodies for every route, bounded by `limitBytes`. A malformed or
 * oversized body gets a precise answer in the dialect of its route (JSON-RPC
 * on /mcp, a JSON error elsewhere) and never a stack trace.
 */
export function jsonBodyParser(
  limitBytes: number,
): [RequestHandler, (err: BodyParserError, req: Request, res: Response, next: NextFunction) => void] {
  const parser = json({ limit: limitBytes, type: ['application/json', 'application/*+json'] });
  const onError = (err: BodyParserError, req: Request, res: Response, next: NextFunction): void => {
    if (!err || typeof err.type !== 'string') return next(err);
    const mcp = req.path === '/mcp' || req.path.startsWith('/mcp/');
    let status = 400;
    let message = 'Request body could not be read';
    let rpcCode = -32600;
    if (err.type === 'entity.too.large') {
      status = 413;
      message = `Request body exceeds the limit of ${limitBytes} bytes`;
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
  return [parser, onError];
}
