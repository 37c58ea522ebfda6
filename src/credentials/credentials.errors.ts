import type { FieldError } from './credential-schemas';

/**
 * Domain errors of the credentials vault's API (requests and connector calls).
 * Crypto failures of a stored record are `CredentialsError` (crypto/credential-errors.ts);
 * CredentialsExceptionFilter maps both to HTTP. Messages never contain a secret.
 * - unknown_service:     the path names a service the vault does not know (404, as
 *                        `/admin/connectors/:service/check` answers it)
 * - invalid_credentials: the body does not fit the service's schema; `errors` names each field (400)
 * - invalid_user_id:     the `userId` given is not 1-64 characters of A-Z a-z 0-9 . _ : @ - (400)
 * - invalid_query:       a query parameter the route does not take, or `userId` given twice (400)
 * - not_found:           nothing stored at that place in the caller's organisation (404)
 */
export type CredentialsRequestErrorCode =
  'unknown_service' | 'invalid_credentials' | 'invalid_user_id' | 'invalid_query' | 'not_found';

/** The HTTP status each code answers with (the filter sends it; the audit interceptor records it). */
export const CREDENTIALS_REQUEST_ERROR_STATUS: Record<CredentialsRequestErrorCode, number> = {
  unknown_service: 404,
  invalid_credentials: 400,
  invalid_user_id: 400,
  invalid_query: 400,
  not_found: 404,
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
      'unknown_service',
      `unknown service ${shown}: must be one of ${allowed.join(', ')}`,
      [{ field: 'service', message: `must be one of ${allowed.join(', ')}` }],
    );
  }

  static invalid(service: string, errors: FieldError[]): CredentialsRequestError {
    return new CredentialsRequestError(
      'invalid_credentials',
      `invalid ${service} credentials: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      errors,
    );
  }

  static invalidUserId(): CredentialsRequestError {
    return new CredentialsRequestError('invalid_user_id', `userId: ${USER_ID_RULE}`, [
      { field: 'userId', message: USER_ID_RULE },
    ]);
  }

  static invalidQuery(errors: FieldError[]): CredentialsRequestError {
    return new CredentialsRequestError(
      'invalid_query',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    );
  }

  static notFound(service: string, userId: string | null): CredentialsRequestError {
    const whose = userId === null ? 'the organisation' : `user ${JSON.stringify(userId)}`;
    return new CredentialsRequestError('not_found', `no ${service} credentials stored for ${whose}`);
  }
}
