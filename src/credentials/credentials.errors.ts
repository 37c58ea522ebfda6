import type { FieldError } from './credential-schemas';

/**
 * Domain errors of the credentials vault's API (requests and connector calls).
 * Crypto failures of a stored record are `CredentialsError` (crypto/credential-errors.ts);
 * CredentialsExceptionFilter maps both to HTTP. Messages never contain a secret.
 * - UNKNOWN_SERVICE:     the service is not one the vault knows (400)
 * - INVALID_CREDENTIALS: the body does not fit the service's schema; `errors` names each field (400)
 * - INVALID_USER_ID:     the `userId` given is not 1-64 characters of A-Z a-z 0-9 . _ : @ - (400)
 * - INVALID_QUERY:       a query parameter the route does not take, or `userId` given twice (400)
 * - NOT_FOUND:           nothing stored at that place in the caller's organisation (404)
 */
export type CredentialsRequestErrorCode =
  'UNKNOWN_SERVICE' | 'INVALID_CREDENTIALS' | 'INVALID_USER_ID' | 'INVALID_QUERY' | 'NOT_FOUND';

/** The HTTP status each code answers with (the filter sends it; the audit interceptor records it). */
export const CREDENTIALS_REQUEST_ERROR_STATUS: Record<CredentialsRequestErrorCode, number> = {
  UNKNOWN_SERVICE: 400,
  INVALID_CREDENTIALS: 400,
  INVALID_USER_ID: 400,
  INVALID_QUERY: 400,
  NOT_FOUND: 404,
};

/** The rule for a credential's `userId`: the same as an API key's user id, which it belongs to. */
export const USER_ID_RULE = 'must be 1-64 characters of A-Z a-z 0-9 . _ : @ -';

export class CredentialsRequestError extends Error {
  /** The HTTP status this error answers with. */
  readonly status: number;

  constructor(
    readonly code: CredentialsRequestErrorCode,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = 'CredentialsRequestError';
    this.status = CREDENTIALS_REQUEST_ERROR_STATUS[code];
  }

  static unknownService(service: string, allowed: readonly string[]): CredentialsRequestError {
    const shown = JSON.stringify(service.length > 100 ? `${service.slice(0, 100)}...` : service);
    return new CredentialsRequestError(
      'UNKNOWN_SERVICE',
      `unknown service ${shown}: must be one of ${allowed.join(', ')}`,
      [{ field: 'service', message: `must be one of ${allowed.join(', ')}` }],
    );
  }

  static invalid(service: string, errors: FieldError[]): CredentialsRequestError {
    return new CredentialsRequestError(
      'INVALID_CREDENTIALS',
      `invalid ${service} credentials: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      errors,
    );
  }

  static invalidUserId(): CredentialsRequestError {
    return new CredentialsRequestError('INVALID_USER_ID', `userId: ${USER_ID_RULE}`, [
      { field: 'userId', message: USER_ID_RULE },
    ]);
  }

  static invalidQuery(errors: FieldError[]): CredentialsRequestError {
    return new CredentialsRequestError(
      'INVALID_QUERY',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    );
  }

  static notFound(service: string, userId: string | null): CredentialsRequestError {
    const whose = userId === null ? 'the organisation' : `user ${JSON.stringify(userId)}`;
    return new CredentialsRequestError('NOT_FOUND', `no ${service} credentials stored for ${whose}`);
  }
}
