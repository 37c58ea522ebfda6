import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { ApiKeyError, ApiKeyErrorCode } from './api-key.errors';

const STATUS: Record<ApiKeyErrorCode, [number, string]> = {
  not_found: [HttpStatus.NOT_FOUND, 'Not Found'],
  permission_not_held: [HttpStatus.FORBIDDEN, 'Forbidden'],
  not_revocable: [HttpStatus.CONFLICT, 'Conflict'],
  not_rotatable: [HttpStatus.CONFLICT, 'Conflict'],
  invalid_cursor: [HttpStatus.BAD_REQUEST, 'Bad Request'],
};

/** Maps ApiKeyError codes to HTTP answers: `{ statusCode, error, code, message[, permission] }`. */
@Catch(ApiKeyError)
export class ApiKeyErrorFilter implements ExceptionFilter<ApiKeyError> {
  catch(err: ApiKeyError, host: ArgumentsHost): void {
    const [status, error] = STATUS[err.code];
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(status)
      .json({
        statusCode: status,
        error,
        code: err.code,
        message: err.message,
        ...(err.permission ? { permission: err.permission } : {}),
      });
  }
}
