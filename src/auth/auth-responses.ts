import { HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import type { TokenErrorReason } from './tokens/token-errors';

/** The reason classes a 401 names (the guard folds `unknown_key` and `wrong_audience` into `invalid`). */
export type UnauthorizedReason = Exclude<TokenErrorReason, 'unknown_key' | 'wrong_audience'>;

/** Seconds a client should wait when the revocation state is not established. */
export const REVOCATION_RETRY_AFTER_SECONDS = 5;

export function resourceMetadataUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl}/.well-known/oauth-protected-resource`;
}

/**
 * 401 with `WWW-Authenticate: Bearer resource_metadata="..."` (RFC 9728 §5.1),
 * plus `error="invalid_token"` when a token was presented (RFC 6750 §3.1).
 */
export function unauthorized(
  res: Response,
  publicBaseUrl: string,
  reason: UnauthorizedReason,
  message: string,
): HttpException {
  const params = [`resource_metadata="${resourceMetadataUrl(publicBaseUrl)}"`];
  if (reason !== 'missing') params.push('error="invalid_token"');
  res.setHeader('WWW-Authenticate', `Bearer ${params.join(', ')}`);
  return new HttpException(
    { statusCode: HttpStatus.UNAUTHORIZED, error: 'Unauthorized', reason, message },
    HttpStatus.UNAUTHORIZED,
  );
}

/** 403 `insufficient_scope` naming the permission the route needs (RFC 6750 §3.1). */
export function insufficientScope(res: Response, publicBaseUrl: string, permission: string): HttpException {
  res.setHeader(
    'WWW-Authenticate',
    `Bearer error="insufficient_scope", scope="${permission}", resource_metadata="${resourceMetadataUrl(publicBaseUrl)}"`,
  );
  return new HttpException(
    {
      statusCode: HttpStatus.FORBIDDEN,
      error: 'Forbidden',
      reason: 'insufficient_scope',
      permission,
      message: `This API key lacks the "${permission}" permission`,
    },
    HttpStatus.FORBIDDEN,
  );
}

/** 503 + Retry-After: the key cannot be checked right now; fail closed. */
export function authUnavailable(res: Response): HttpException {
  res.setHeader('Retry-After', String(REVOCATION_RETRY_AFTER_SECONDS));
  return new HttpException(
    {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      reason: 'auth_unavailable',
      message: 'API keys cannot be checked right now; retry shortly',
    },
    HttpStatus.SERVICE_UNAVAILABLE,
  );
}
