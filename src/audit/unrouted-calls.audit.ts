import type { NextFunction, Request, Response } from 'express';
import { ERROR_CODE_LOCAL } from '../common/error-envelope';
import { RequestContext } from '../observability/request-context';
import { AuditWriter } from './audit.writer';
import { outcomeForStatus } from './audit.interceptor';
import { clientIp } from './audit-request-context';

/** Who a request's bearer token says it comes from, when its signature verifies; else undefined. */
export type IdentifyCaller = (
  req: Request,
) => { keyId: string; userId: string; organizationId: string } | undefined;

const ADMIN_PATH = /^\/(admin|credentials)(\/|$)/i;

/**
 * Admin and credentials calls refused before any route took them leave an
 * `admin` row too: a body the parser refused (415, 400, 413), a method the
 * path does not take (405), a path that does not exist (404). The audit
 * interceptor never sees these (it runs on a matched route), and a matched
 * route's refusals are its own or the auth guard's. Recorded only for a
 * caller whose token verifies, so nobody can fill the trail without a key,
 * and not for the per-IP limit's 429s (each window's first is a rate-limit
 * event; a row for every one would let a flood fill the trail); after the
 * answer, which changed nothing to wait for, with the `code` it carried.
 * The path is matched without regard to case, so `/Admin/...` attempts are
 * recorded as well.
 */
export function auditUnroutedCalls(writer: AuditWriter, identify: IdentifyCaller) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!ADMIN_PATH.test(req.path)) return next();
    const started = performance.now();
    const requestId = RequestContext.requestId(); // 'finish' need not run in the request's context
    res.once('finish', () => {
      if (req.route) return; // a route took it: the interceptor or the guard recorded it
      if (res.statusCode === 429) return; // the per-IP limit: a rate-limit event, once a window, says so
      const caller = identify(req);
      if (!caller) return;
      const ua = req.headers['user-agent'];
      void writer
        .record({
          kind: 'admin',
          action: `${req.method} ${req.path}`,
          outcome: outcomeForStatus(res.statusCode),
          status: res.statusCode,
          errorCode: errorCodeOf(res),
          durationMs: performance.now() - started,
          organizationId: caller.organizationId,
          userId: caller.userId,
          keyId: caller.keyId,
          ip: clientIp(req),
          userAgent: typeof ua === 'string' ? ua : undefined,
          requestId,
        })
        .catch(() => undefined); // the writer logs and counts what it cannot write
    });
    next();
  };
}

/** The `code` of the JSON error answer sent (installErrorEnvelope leaves it), else null. */
function errorCodeOf(res: Response): string | null {
  const code: unknown = res.locals[ERROR_CODE_LOCAL];
  return typeof code === 'string' ? code : null;
}
