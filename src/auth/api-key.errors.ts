/**
 * Domain errors of API-key administration. The HTTP filter
 * (api-key-error.filter.ts) and the CLI map the codes to their transports.
 * - not_found:           no such key in the caller's organisation (also another organisation's key)
 * - permission_not_held: the caller tried to grant a permission it does not hold
 * - lifetime_not_held:   an expiring caller asked for a key that would outlive it
 * - not_revocable:       the key is already revoked
 * - not_rotatable:       the key is revoked, scheduled for revocation or expired
 * - invalid_query:       a list cursor this server did not issue (the code of every bad query parameter)
 */
export type ApiKeyErrorCode =
  | 'not_found'
  | 'permission_not_held'
  | 'lifetime_not_held'
  | 'not_revocable'
  | 'not_rotatable'
  | 'invalid_query';

/** HTTP status and reason phrase of each code (the filter answers with them; the audit interceptor records the status). */
export const API_KEY_ERROR_STATUS: Record<ApiKeyErrorCode, [number, string]> = {
  not_found: [404, 'Not Found'],
  permission_not_held: [403, 'Forbidden'],
  lifetime_not_held: [403, 'Forbidden'],
  not_revocable: [409, 'Conflict'],
  not_rotatable: [409, 'Conflict'],
  invalid_query: [400, 'Bad Request'],
};

export class ApiKeyError extends Error {
  /** The HTTP status this error answers with. */
  readonly status: number;

  constructor(
    readonly code: ApiKeyErrorCode,
    message: string,
    /** The permission a `permission_not_held` error is about. */
    readonly permission?: string,
  ) {
    super(message);
    this.name = 'ApiKeyError';
    this.status = API_KEY_ERROR_STATUS[code][0];
  }

  static notFound(): ApiKeyError {
    return new ApiKeyError('not_found', 'API key not found');
  }
}
