import type { NextFunction, Request, Response } from 'express';

/**
 * Two headers on every answer, before any route or error sets its own:
 * `X-Content-Type-Options: nosniff`, so a browser never reads an answer as
 * another type than the one sent (a JSON error quoting a caller's text as
 * HTML); and `Cache-Control: no-store`, so no cache, shared or the
 * browser's, keeps an answer that may hold a new key's token, a tenant's
 * data or its audit trail. A route whose answer may be cached (the
 * protected-resource metadata) or streams (SSE, `no-cache`) sets its own,
 * which replaces this one.
 */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  next();
}
