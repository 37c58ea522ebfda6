import { ServiceUnavailableException } from '@nestjs/common';

/** Seconds a refused caller is told to wait (`Retry-After`), as for database_unavailable. */
export const AUDIT_RETRY_AFTER_SECONDS = 5;

/**
 * The audit record could be written neither to the database nor to the
 * spool file, so the call it records must not be answered as a success:
 * REST answers 503 with `Retry-After` (this is an HttpException; the audit
 * interceptor adds the header), and a refused tool call's JSON answer on /mcp
 * goes out as 503 with `Retry-After` too (see McpServerFactory).
 */
export class AuditUnavailableError extends ServiceUnavailableException {
  readonly code = 'audit_unavailable';
  constructor() {
    super(
      {
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'audit_unavailable',
        message: 'The audit trail cannot be written right now, so the request was refused. Retry later.',
      },
      { description: 'audit_unavailable' },
    );
    this.name = 'AuditUnavailableError';
  }
}
