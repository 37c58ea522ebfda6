import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { API_KEY_ERROR_STATUS, ApiKeyError } from './api-key.errors';

/** Maps ApiKeyError codes to HTTP answers: `{ statusCode, error, code, message[, permission][, field] }`. */
@Catch(ApiKeyError)
export class ApiKeyErrorFilter implements ExceptionFilter<ApiKeyError> {
  catch(err: ApiKeyError, host: ArgumentsHost): void {
    const [status, error] = API_KEY_ERROR_STATUS[err.code];
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
        // A bad cursor is named as every REST route names a bad query parameter (`field`, `errors`).
        ...(err.code === 'invalid_query'
          ? { field: 'cursor', errors: [{ field: 'cursor', message: 'not a cursor this server issued' }] }
          : {}),
      });
  }
}
