import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AuditRequestContext } from './audit-request-context';
import { AUDIT_OPTIONS, AuditOptions } from './audit.options';
import { AuditService, SecurityEvent } from './audit.service';
import { SecurityEventLimiter, OVERFLOW_SOURCE, SuppressedEvents } from './security-event.limiter';

/** Action of the summary row a window writes for the events it did not record one by one. */
export const SUPPRESSED_ACTION = 'security_events.suppressed';

/**
 * Security events from the request path (the auth guard's 401/403/503, rate
 * limit hits): recorded without making the request wait, and without letting
 * a flood of bad requests turn into a flood of audit writes.
 *
 * - `report()` never awaits and never throws: the record joins the writer's
 *   next group commit and a failure to write it is left to the writer (which
 *   logs and counts it). A 401 stays a 401, answered at once.
 * - Coalescing, chosen over sampling or an unbounded queue: in each window
 *   (default one minute) the first `perSource` events of each client IP and
 *   error code, and at most `total` over all, are recorded one by one (full
 *   row: ip, user agent, request id, status, error code). Every further event
 *   is counted, and when the window ends each (IP, code) that had some gets
 *   one `security_events.suppressed` row (kind `security`, the code, the IP,
 *   the count in the digested details) and one warn log line with the count.
 *   So audit writes per minute are bounded whatever the flood, the trail
 *   still shows who flooded, and `auth_failures_total` (counted by the caller
 *   for every event) keeps the exact numbers. Memory is bounded by
 *   `maxSources`; sources beyond it share the source `*`.
 */
@Injectable()
export class SecurityEventRecorder implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SecurityEvents');
  private readonly limiter: SecurityEventLimiter;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditService,
    @Inject(AUDIT_OPTIONS) options: AuditOptions,
  ) {
    this.limiter = new SecurityEventLimiter(options.securityEvents);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.endWindow(), this.limiter.limits.windowMs);
    this.timer.unref();
  }

  /** Shutdown: the last window's summaries join the writer's final flush (which runs after this). */
  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    void this.endWindow();
  }

  /**
   * Records `event` in the background. True when it gets a row of its own,
   * false when the window's limit for its source was reached and it is only
   * counted into the window's summary.
   */
  report(event: SecurityEvent): boolean {
    const source = event.ip ?? AuditRequestContext.current()?.ip ?? 'unknown';
    if (!this.limiter.admit(source, event.errorCode ?? event.action, event.status)) return false;
    this.write(event);
    return true;
  }

  /** Ends the current window now (tests, shutdown); resolves once its summaries are written or refused. */
  endWindow(): Promise<void> {
    const suppressed = this.limiter.rollover();
    return Promise.all(suppressed.map((s) => this.summarise(s))).then(() => undefined);
  }

  private summarise(s: SuppressedEvents): Promise<void> {
    const ip = s.source === OVERFLOW_SOURCE ? null : s.source;
    this.logger.warn({
      message: 'Security events suppressed',
      errorCode: s.errorCode,
      ip: ip ?? 'many',
      count: s.count,
      windowMs: this.limiter.limits.windowMs,
    });
    return this.write({
      kind: 'security',
      action: SUPPRESSED_ACTION,
      outcome: 'suppressed',
      errorCode: s.errorCode,
      status: s.status,
      ...(ip ? { ip } : {}),
      details: { suppressed: s.count, windowMs: this.limiter.limits.windowMs, source: s.source },
    });
  }

  /** Fire and forget: the writer logs and counts what it cannot write. */
  private write(event: SecurityEvent): Promise<void> {
    try {
      return this.audit.securityEvent(event).catch(() => undefined);
    } catch {
      return Promise.resolve();
    }
  }
}
