/**
 * Why a bearer token was refused. The service raises the first four; the
 * auth guard adds `revoked` (the key id is in the revoked set) and
 * `unknown_key` (a well-signed token whose key id has no record).
 *
 * - missing:   no Authorization header / empty token
 * - malformed: not a Bearer credential, or not syntactically a compact JWS
 *              (wrong segment count, bad base64url, over the size bound)
 * - invalid:   anything about signature, alg, kid, typ, iss, aud, claim types,
 *              iat/nbf in the future; deliberately one class so a forged token
 *              learns nothing about which check it failed
 * - expired:   correctly signed, all other checks passed, past `exp`
 */
export const TOKEN_ERROR_REASONS = [
  'missing',
  'malformed',
  'invalid',
  'expired',
  'revoked',
  'unknown_key',
] as const;

export type TokenErrorReason = (typeof TOKEN_ERROR_REASONS)[number];

const MESSAGES: Record<TokenErrorReason, string> = {
  missing: 'No API key was presented',
  malformed: 'The API key is malformed',
  invalid: 'The API key is invalid',
  expired: 'The API key has expired',
  revoked: 'The API key has been revoked',
  unknown_key: 'The API key is invalid',
};

/**
 * A refused token. The message is fixed per reason: it never contains the
 * token, a claim value or the detail of which check failed.
 */
export class TokenError extends Error {
  constructor(readonly reason: TokenErrorReason) {
    super(MESSAGES[reason]);
    this.name = 'TokenError';
  }
}
