import { randomUUID } from 'node:crypto';
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { RequestContext } from './request-context';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** 1-128 characters that are safe to log and to echo in a header. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Returns the caller's request id if it is a safe token, else a new UUID. */
export function resolveRequestId(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Gives every request a correlation id: the caller's `X-Request-Id` when it is
 * a safe token, otherwise a UUID. The id is echoed in the response header and
 * held in RequestContext for the rest of the request, so every log line
 * written on its behalf carries it.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    // Applied first thing in app.factory (so body-parser errors carry an id too) and
    // again by the module for apps built without it: the first one wins.
    if (RequestContext.current()) return next();
    const requestId = resolveRequestId(req.headers['x-request-id']);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    RequestContext.run({ requestId }, () => next());
  }
}
