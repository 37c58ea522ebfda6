import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { eventPath } from '../audit/audit-request-context';
import { SecurityEventRecorder } from '../audit/security-event.recorder';
import { PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from '../auth/principal';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimitDecision, requestPath } from './rate-limit-decision';

/**
 * Security events of the rate limits: every refusal is counted
 * (`rate_limited_total{scope}`); the first refusal of a window for a caller
 * is logged at warn with the key id or the IP (never the token) and audited
 * (kind `security`, action `rate_limit.exceeded`, status 429, error code
 * `rate_limited`, the limit in the details), so a flood costs one log line
 * and one audit row per caller and window, not one per request.
 */
@Injectable()
export class RateLimitEvents {
  private readonly logger = new Logger('RateLimit');
  private lastFailureLogAt = 0;

  constructor(
    private readonly metrics: MetricsService,
    private readonly events: SecurityEventRecorder,
  ) {}

  refused(req: Request, res: Response, decision: RateLimitDecision, ip: string, keyId?: string): void {
    this.metrics.rateLimited(decision.scope);
    if (!decision.firstRefusal) return;
    this.logger.warn({
      message: 'Security event',
      event: 'rate_limit.exceeded',
      limit: decision.scope,
      max: decision.limit,
      retryAfterSeconds: decision.resetSeconds,
      ...(keyId ? { keyId } : {}),
      ip,
      method: req.method,
      path: eventPath(requestPath(req)),
      requestId: res.getHeader('x-request-id'),
    });
    try {
      const principal = (req as RequestWithPrincipal)[PRINCIPAL_REQUEST_KEY];
      const ua = req.headers['user-agent'];
      const requestId = res.getHeader('x-request-id');
      this.events.report({
        kind: 'security',
        action: 'rate_limit.exceeded',
        errorCode: 'rate_limited',
        status: 429,
        principal: principal ?? (keyId ? { keyId } : undefined),
        ip,
        userAgent: typeof ua === 'string' ? ua : undefined,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        details: {
          limit: decision.scope,
          max: decision.limit,
          retryAfterSeconds: decision.resetSeconds,
          method: req.method,
          path: eventPath(requestPath(req)),
        },
      });
    } catch (err) {
      // Recording must never change the answer (a 429).
      this.logger.error({
        message: 'Recording a rate-limit event failed',
        error: (err as Error)?.name ?? 'error',
      });
    }
  }

  /** The limiter itself failed unexpectedly: the request is admitted, never answered 500. */
  limiterFailed(scope: RateLimitDecision['scope'], err: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLogAt < 60_000) return; // at most one line a minute
    this.lastFailureLogAt = now;
    this.logger.error({
      message: 'Rate limiter failed; request admitted without this limit',
      limit: scope,
      error: err instanceof Error ? err.message : 'error',
    });
  }
}
