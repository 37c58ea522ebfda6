import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/** Status recorded for a request whose client went away before the response was complete (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * Counts every HTTP request once its response is done, by method, route
 * pattern and status, and observes its duration. A middleware rather than an
 * interceptor so that answers from guards (401, 403, 429), 404s of unknown
 * routes and exception filters are counted too. The route is read from
 * `req.route` when the response ends, i.e. after routing: the pattern
 * (`/admin/api-keys/:id`), never the raw URL.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    const inFlight = this.metrics.httpRequestsInFlight;
    inFlight.inc();
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      inFlight.dec();
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
      this.metrics.httpRequest(req.method, req.route, status, (performance.now() - started) / 1000);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  }
}
