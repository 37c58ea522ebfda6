import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { ApiServiceUnavailableResponse, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Observable, from, lastValueFrom } from 'rxjs';
import { PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from '../auth/principal';
import { statusErrorCode, withErrorEnvelope } from '../common/error-envelope';
import { isDatabaseUnavailable } from '../database/database-errors';
import { actorColumns, AuditOutcome } from './audit-record';
import { AuditRequestContext, clientIp } from './audit-request-context';
import { AUDIT_RETRY_AFTER_SECONDS, AuditUnavailableError } from './audit.errors';
import { AuditWriter } from './audit.writer';

/**
 * Path prefixes whose controllers must be `@Audited()` (checked by
 * test/e2e/audited-routes.e2e-spec.ts). The interceptor itself audits every
 * call of the routes it is bound to and never looks at the request's path,
 * whose spelling the router need not share.
 */
export const AUDITED_PREFIXES = ['/admin', '/credentials'];

export function isAuditedPath(path: string): boolean {
  return AUDITED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

export function outcomeForStatus(status: number): AuditOutcome {
  if (status < 400) return 'success';
  if (status === 401 || status === 403) return 'denied';
  if (status < 500) return 'client_error';
  return 'server_error';
}

/**
 * A feature's domain error that its exception filter answers with an HTTP
 * status carries it as `status` (and its code as `code`), so the record shows
 * the status the caller got, not a 500.
 */
function domainStatusOf(err: unknown): number | undefined {
  if (err instanceof HttpException || !(err instanceof Error)) return undefined;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599
    ? status
    : undefined;
}

/** A failure the database caused answers 503 database_unavailable (DatabaseUnavailableFilter). */
const databaseUnavailable = (err: unknown): boolean =>
  !(err instanceof HttpException) && isDatabaseUnavailable(err);

function statusOf(err: unknown): number {
  if (databaseUnavailable(err)) return 503;
  return err instanceof HttpException ? err.getStatus() : (domainStatusOf(err) ?? 500);
}

function errorCodeOf(err: unknown, status: number): string {
  if (databaseUnavailable(err)) return 'database_unavailable';
  const body = err instanceof HttpException ? err.getResponse() : domainStatusOf(err) ? err : undefined;
  // The code the caller was answered with (src/common/error-envelope.ts).
  const code = (withErrorEnvelope(body, status) as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : statusErrorCode(status);
}

/**
 * Records every REST call under /admin and /credentials as one `admin`
 * audit row (action `METHOD /route/pattern`, status, duration, outcome by
 * status, digest of {params, query, body}), so controllers carry no audit
 * code. The answer waits for the record to be durable (sync mode); if it
 * cannot be written the call answers 503.
 *
 * A handler that wrote its own record with `AuditWriter.recordInTransaction`
 * (which sets `recordedInTransaction` on this request's AuditRequestContext)
 * gets no second row when it succeeds. When it fails, this row is written
 * anyway: the failure usually rolled that transaction (and its record) back,
 * so skipping would leave a failed admin call unaudited. At worst (a failure
 * after the commit) the call has two rows, the change and the failed answer;
 * never none.
 *
 * Applied with `@Audited()` to every controller under an audited prefix, not
 * globally: Nest binds each interceptor of a route into the request's async
 * context (AsyncResource.bind), which on Node 20 keeps the request alive
 * through young-generation collections, and /mcp needs none of it.
 * test/e2e/audited-routes.e2e-spec.ts fails when a controller under an
 * audited prefix lacks it.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly writer: AuditWriter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request & RequestWithPrincipal>();
    const res = context.switchToHttp().getResponse<Response>();

    const started = performance.now();
    const scope = { ...AuditRequestContext.current(), recordedInTransaction: false };
    /** `errorCode` is given exactly when the handler failed. */
    const audit = (status: number, errorCode?: string) => {
      const failed = errorCode !== undefined;
      if (!failed && scope.recordedInTransaction) return Promise.resolve();
      const principal = req[PRINCIPAL_REQUEST_KEY];
      const route = (req.route as { path?: string } | undefined)?.path;
      const ua = req.headers['user-agent'];
      return this.writer.record({
        kind: 'admin',
        action: `${req.method} ${route ? `${req.baseUrl ?? ''}${route}` : req.path}`,
        outcome: outcomeForStatus(status),
        status,
        errorCode: errorCode ?? scope.resultCode ?? null,
        durationMs: performance.now() - started,
        ...actorColumns(principal),
        ip: clientIp(req),
        userAgent: typeof ua === 'string' ? ua : undefined,
        args: { params: req.params ?? {}, query: req.query ?? {}, body: req.body },
      });
    };

    const run = async () => {
      let value: unknown;
      try {
        value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      } catch (err) {
        const status = statusOf(err);
        await audit(status, errorCodeOf(err, status));
        throw err;
      }
      await audit(res.statusCode);
      return value;
    };
    return from(
      AuditRequestContext.run(scope, () =>
        run().catch((err: unknown) => {
          // The record could be written nowhere: the 503 tells the caller when to try again.
          if (err instanceof AuditUnavailableError && !res.headersSent)
            res.setHeader('Retry-After', String(AUDIT_RETRY_AFTER_SECONDS));
          throw err;
        }),
      ),
    );
  }
}

/**
 * Audits every call of the controller it decorates (see AuditInterceptor),
 * and documents the 503 such a call may answer (its audit record could be
 * written nowhere, and every audited route also needs the database and a
 * checked key) and the 429 of the rate limits every keyed route counts against.
 */
export const Audited = (): ClassDecorator & MethodDecorator =>
  applyDecorators(
    UseInterceptors(AuditInterceptor),
    ApiServiceUnavailableResponse({
      description:
        'Unavailable right now; retry later (after Retry-After when given): the database ' +
        '(code database_unavailable), the audit trail (code audit_unavailable) or the key check ' +
        '(reason auth_unavailable)',
    }),
    // Every audited route takes a key, and so counts against the per-key and per-IP limits.
    ApiTooManyRequestsResponse({
      description:
        'Over the per-key or per-IP rate limit (code rate_limited); retry after Retry-After seconds',
    }),
  );
