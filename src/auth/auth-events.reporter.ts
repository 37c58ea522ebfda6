import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { clientIp, eventPath } from '../audit/audit-request-context';
import { SecurityEventRecorder } from '../audit/security-event.recorder';
import { MetricsService } from '../metrics/metrics.service';
import type { UnauthorizedReason } from './auth-responses';
import type { Principal } from './principal';
import type { TokenErrorReason } from './tokens/token-errors';

/** Why a token was refused, as finely as the guard knows it (only `reason` reaches the client). */
export type RefusalCause = TokenErrorReason | 'token_in_query';

/** What the guard may say about a refused key: only facts from a verified signature. */
export type VerifiedKeyFacts = Partial<Pick<Principal, 'keyId' | 'userId' | 'organizationId'>>;

/** Audit action per refusal cause. */
const REFUSAL_ACTIONS: Record<RefusalCause, string> = {
  missing: 'auth.missing_token',
  malformed: 'auth.malformed_token',
  token_in_query: 'auth.token_in_query',
  invalid: 'auth.invalid_token',
  unknown_key: 'auth.unknown_key',
  wrong_audience: 'auth.wrong_audience',
  expired: 'auth.expired_token',
  revoked: 'auth.revoked_key',
};

/** The `reason` a 401 names for a cause (an unknown key or another audience is just invalid to the client). */
export function unauthorizedReason(cause: RefusalCause): UnauthorizedReason {
  if (cause === 'unknown_key' || cause === 'wrong_audience') return 'invalid';
  if (cause === 'token_in_query') return 'malformed';
  return cause;
}

/**
 * The auth guard's security events. Each refusal is
 *  - logged at warn (`Security event`, with the key id only when a verified
 *    signature vouches for it, the path without its query, never the token),
 *  - counted: `auth_failures_total{reason}`, reason one of missing, malformed,
 *    invalid, expired, revoked, insufficient_scope, auth_unavailable,
 *  - audited without waiting (SecurityEventRecorder): kind `auth` (`security`
 *    for 503), action per cause, status, error_code = the reason the client
 *    was given, ip, user agent, request id; organisation, user and key only
 *    from a verified token.
 * None of this can change the answer: no step awaits, none throws.
 */
@Injectable()
export class AuthEventsReporter {
  private readonly logger = new Logger('AuthGuard');

  constructor(
    private readonly metrics: MetricsService,
    private readonly events: SecurityEventRecorder,
  ) {}

  /** A 401; `detail` is for the log only (the operator's view of why). */
  unauthorized(
    req: Request,
    res: Response,
    cause: RefusalCause,
    key: VerifiedKeyFacts = {},
    detail?: string,
  ): void {
    const reason = unauthorizedReason(cause);
    this.log(req, res, 'auth.refused', {
      reason: cause === 'token_in_query' ? 'malformed' : cause,
      ...(cause === 'token_in_query' ? { detail: 'token in query string' } : detail ? { detail } : {}),
      ...(key.keyId ? { keyId: key.keyId } : {}),
    });
    this.report(req, res, { action: REFUSAL_ACTIONS[cause], status: 401, reason, key, kind: 'auth' });
  }

  /** A 403: a valid key without the permission the route needs. */
  forbidden(req: Request, res: Response, principal: Principal, permission: string): void {
    this.log(req, res, 'auth.denied', { reason: 'insufficient_scope', permission, keyId: principal.keyId });
    this.report(req, res, {
      action: 'auth.insufficient_scope',
      status: 403,
      reason: 'insufficient_scope',
      key: principal,
      kind: 'auth',
      details: { permission },
    });
  }

  /** A 503: the key could not be checked (revocation state unknown, key lookup failed). */
  unavailable(req: Request, res: Response, cause: string, keyId: string): void {
    this.log(req, res, 'auth.unavailable', { reason: cause, keyId });
    this.report(req, res, {
      action: 'auth.unavailable',
      status: 503,
      reason: 'auth_unavailable',
      key: { keyId },
      kind: 'security',
      details: { cause },
    });
  }

  private report(
    req: Request,
    res: Response,
    e: {
      action: string;
      status: number;
      reason: string;
      key: VerifiedKeyFacts;
      kind: 'auth' | 'security';
      details?: Record<string, unknown>;
    },
  ): void {
    try {
      this.metrics.authFailure(e.reason);
      const ua = req.headers['user-agent'];
      const requestId = res.getHeader('x-request-id');
      this.events.report({
        kind: e.kind,
        action: e.action,
        outcome: 'denied',
        errorCode: e.reason,
        status: e.status,
        principal: e.key,
        ip: clientIp(req),
        userAgent: typeof ua === 'string' ? ua : undefined,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        details: { method: req.method, path: eventPath(req.path), ...e.details },
      });
    } catch (err) {
      // Reporting must never change the answer.
      this.logger.error({
        message: 'Recording a security event failed',
        error: (err as Error)?.name ?? 'error',
      });
    }
  }

  private log(req: Request, res: Response, event: string, fields: Record<string, unknown>): void {
    this.logger.warn({
      message: 'Security event',
      event,
      ...fields,
      method: req.method,
      path: eventPath(req.path),
      ip: req.ip,
      requestId: res.getHeader('x-request-id'),
    });
  }
}
