import { randomUUID } from 'node:crypto';
import { Injectable, NestMiddleware, Optional } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { RequestContext, RequestContextState } from './request-context';

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
 *
 * With SERVER_TIMING on, the context also carries a way to add metrics to
 * the response's `Server-Timing` header (tool calls report `tool`, the
 * tool's own run, and `audit`, the wait for its audit record to be durable),
 * so a client sees what each part of its call cost.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  private readonly serverTiming: boolean;

  constructor(@Optional() @InjectConfig() config?: Pick<AppConfig, 'serverTiming'>) {
    this.serverTiming = config?.serverTiming ?? false;
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // Applied first thing in app.factory (so body-parser errors carry an id too) and
    // again by the module for apps built without it: the first one wins.
    if (RequestContext.current()) return next();
    const requestId = resolveRequestId(req.headers['x-request-id']);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const state: RequestContextState = { requestId };
    if (this.serverTiming)
      state.serverTiming = (name, ms) => {
        if (!res.headersSent) res.appendHeader('Server-Timing', `${name};dur=${ms.toFixed(2)}`);
      };
    RequestContext.run(state, () => next());
  }
}
