import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { cutText } from '../common/well-formed';

/** What the audit trail needs from the HTTP request beyond the principal and request id. */
export interface AuditRequestState {
  ip?: string;
  userAgent?: string;
  /**
   * Set by `AuditWriter.recordInTransaction`: the admin action is already
   * audited, the interceptor adds no row if the call succeeds (it still
   * records a failed call, whose transaction may have rolled back).
   */
  recordedInTransaction?: boolean;
  /**
   * A code the handler answered with in a successful response (a connector
   * check that ran, and found the service failing: 200 with `ok: false`),
   * recorded as the row's error_code; its outcome stays that of the status.
   */
  resultCode?: string;
}

const storage = new AsyncLocalStorage<AuditRequestState>();

/** Per-request audit state, carried by AsyncLocalStorage (like observability's RequestContext). */
export const AuditRequestContext = {
  run<T>(state: AuditRequestState, fn: () => T): T {
    return storage.run(state, fn);
  },
  current(): AuditRequestState | undefined {
    return storage.getStore();
  },
  /** Records `code` as this request's audit row's error_code though it answers 2xx (see `resultCode`). */
  noteResultCode(code: string): void {
    const state = storage.getStore();
    if (state) state.resultCode = code;
  },
};

/**
 * The most of a request's path a security event (its row and log line) keeps, as an unrouted admin
 * call's action keeps: the caller chooses the path, up to Node's 16 KB header limit, and without a
 * key could otherwise put that much into every recorded event (up to 1,000 rows a minute).
 */
export const MAX_EVENT_PATH = 200;

/** `path` as a security event keeps it: its first MAX_EVENT_PATH characters, `...` when cut. */
export const eventPath = (path: string): string =>
  path.length > MAX_EVENT_PATH ? `${cutText(path, MAX_EVENT_PATH)}...` : path;

/** The caller's address as Express sees it (honours `trust proxy`). */
export const clientIp = (req: Request): string | undefined =>
  req.ip ?? req.socket?.remoteAddress ?? undefined;

/**
 * Keeps the caller's IP and User-Agent for every request, so the tool-call
 * hook (which sees no HTTP request) can put them in the record.
 */
@Injectable()
export class AuditRequestMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    const ua = req.headers['user-agent'];
    AuditRequestContext.run({ ip: clientIp(req), userAgent: typeof ua === 'string' ? ua : undefined }, () =>
      next(),
    );
  }
}
