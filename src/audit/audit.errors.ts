import { ServiceUnavailableException } from '@nestjs/common';

/**
 * The audit record could be written neither to the database nor to the
 * spool file, so the call it records must not be answered as a success:
 * REST answers 503 (this is an HttpException), and the MCP transport should
 * map it to 503 too (`instanceof AuditUnavailableError`, code `audit_unavailable`).
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
