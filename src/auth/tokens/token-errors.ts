/**
 * Why a bearer token was refused. The service raises the first four and
 * `wrong_audience`; the auth guard adds `revoked` (the key id is in the revoked set) and
 * `unknown_key` (a well-signed token whose key id has no record).
 *
 * - missing:   no Authorization header / empty token
 * - malformed: not a Bearer credential, or not syntactically a compact JWS
 *              (wrong segment count, bad base64url, over the size bound)
 * - invalid:   anything about signature, alg, kid, typ, iss, aud, claim types,
 *              iat/nbf in the future; deliberately one class so a forged token
 *              learns nothing about which check it failed
 * - expired:   correctly signed, all other checks passed, past `exp`
 * - wrong_audience: correctly signed by one of this server's keys, every other
 *              claim well-formed, but issued for another resource (`aud` is
 *              not this server's PUBLIC_BASE_URL: a key minted by a CLI or an
 *              instance configured with another URL or port). The client is
 *              told `invalid`, like any refused audience; the log says which
 *              audience the token names, so an operator can see the mismatch.
 */
export const TOKEN_ERROR_REASONS = [
  'missing',
  'malformed',
  'invalid',
  'expired',
  'revoked',
  'unknown_key',
  'wrong_audience',
] as const;

export type TokenErrorReason = (typeof TOKEN_ERROR_REASONS)[number];

const MESSAGES: Record<TokenErrorReason, string> = {
  missing: 'No API key was presented',
  malformed: 'The API key is malformed',
  invalid: 'The API key is invalid',
  expired: 'The API key has expired',
  revoked: 'The API key has been revoked',
  unknown_key: 'The API key is invalid',
  wrong_audience: 'The API key is invalid',
};

/**
 * The `malformed` message for an Authorization header of another scheme
 * (`Basic ...`) or a token sent without one: the key may be fine, the header
 * is not.
 */
export const NOT_BEARER_MESSAGE = 'The Authorization header must be "Bearer <API key>"';

/**
 * A refused token. The message is fixed per reason (and `NOT_BEARER_MESSAGE`):
 * it never contains the token, a claim value or the detail of which check failed.
 */
export class TokenError extends Error {
  /**
   * `audience`: for `wrong_audience`, the `aud` the (genuinely signed) token
   * names, for the server's log; never part of the message.
   */
  constructor(
    readonly reason: TokenErrorReason,
    readonly audience?: string,
    message: string = MESSAGES[reason],
  ) {
    super(message);
    this.name = 'TokenError';
  }
}
