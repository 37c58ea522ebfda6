import { ArgumentsHost, Catch, HttpException, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Request, Response } from 'express';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  databaseErrorCode,
  DatabaseUnavailableException,
  isDatabaseUnavailable,
} from './database-errors';

/**
 * Global (DatabaseModule's APP_FILTER): an HTTP request failed by the
 * database being unreachable, overloaded or too slow (isDatabaseUnavailable:
 * a statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS, a refused or lost
 * connection, no pooled connection within the connect timeout) answers
 * 503 `database_unavailable` with `Retry-After`, not a 500 "Internal server
 * error", and logs one warning naming the route and the driver's code (never
 * the statement or its parameters). Everything else goes to Nest's default
 * handling unchanged; feature filters bound to a controller still come first.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Database');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (
      host.getType() !== 'http' ||
      exception instanceof HttpException ||
      !isDatabaseUnavailable(exception)
    ) {
      return super.catch(exception, host);
    }
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    this.logger.warn(
      `${req.method} ${req.path} answered 503: the database is unavailable (${databaseErrorCode(exception)})`,
    );
    if (!res.headersSent) res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    super.catch(new DatabaseUnavailableException(), host);
  }
}
