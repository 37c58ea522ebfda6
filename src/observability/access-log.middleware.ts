import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * One structured line per HTTP request when it finishes (`event: api_call`):
 * method, route pattern (never the raw URL with its query), status and
 * duration, at the `verbose` level, so LOG_LEVEL=verbose turns access logging
 * on without adding a line per request to the default `info` output.
 */
@Injectable()
export class AccessLogMiddleware implements NestMiddleware {
  private readonly logger = new Logger('Http');

  use(req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      this.logger.verbose({
        message: `${req.method} ${route ?? 'unmatched'} ${res.statusCode}`,
        event: 'api_call',
        method: req.method,
        route: route ?? 'unmatched',
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      });
    });
    next();
  }
}
