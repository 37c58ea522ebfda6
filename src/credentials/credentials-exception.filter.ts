import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { CredentialsRequestError } from './credentials.errors';
import { CredentialsError } from './crypto/credential-errors';

export interface CredentialsErrorResponse {
  status: number;
  body: {
    statusCode: number;
    error: string;
    code: string;
    message: string;
    field?: string;
    errors?: { field: string; message: string }[];
    keyId?: string;
  };
}

const REASON: Partial<Record<number, string>> = {
  [HttpStatus.BAD_REQUEST]: 'Bad Request',
  [HttpStatus.NOT_FOUND]: 'Not Found',
  [HttpStatus.CONFLICT]: 'Conflict',
  [HttpStatus.INTERNAL_SERVER_ERROR]: 'Internal Server Error',
};

/** The HTTP answer for a vault error. Every message it carries is safe to show (no secret, no bytes). */
export function credentialsErrorResponse(
  err: CredentialsRequestError | CredentialsError,
): CredentialsErrorResponse {
  const status = err.status;
  const body: CredentialsErrorResponse['body'] = {
    statusCode: status,
    error: REASON[status] ?? 'Error',
    code: err.code,
    message: err.message,
  };
  if (err instanceof CredentialsRequestError && err.errors) {
    // A query refusal names its first parameter as `field`, as every REST route's does.
    if (err.code === 'invalid_query' && err.errors.length > 0) body.field = err.errors[0].field;
    body.errors = err.errors;
  }
  if (err instanceof CredentialsError && err.keyId !== undefined) body.keyId = err.keyId;
  return { status, body };
}

/** Maps the credentials feature's domain errors to HTTP; anything else goes to Nest's default handling. */
@Catch(CredentialsRequestError, CredentialsError)
export class CredentialsExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(CredentialsExceptionFilter.name);

  catch(err: CredentialsRequestError | CredentialsError, host: ArgumentsHost): void {
    const { status, body } = credentialsErrorResponse(err);
    if (status >= 500) this.logger.error(`${err.code}: ${err.message}`);
    host.switchToHttp().getResponse<Response>().status(status).json(body);
  }
}
