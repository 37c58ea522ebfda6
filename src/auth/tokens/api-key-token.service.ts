import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import { AppConfig, SigningKey } from '../../config/config.types';
import { decodeJsonObject, hs256Matches, signHs256, splitCompact } from './compact-jws';
import { Permission, isPermission } from './permissions';
import { NOT_BEARER_MESSAGE, TokenError } from './token-errors';

/** The explicit JWT `typ` of an API key (RFC 8725 §3.11); compared exactly. */
export const API_KEY_TOKEN_TYPE = 'sentia-api-key+jwt';
/**
 * Leeway on `nbf` and `iat` (the issue allows at most 60 s): a key issued on
 * one instance works at once on another whose clock is a little behind. None
 * on `exp`: a key stops working at its expiry, the moment its open streams
 * end and its listing says `expired` (with leeway, a client whose stream
 * ended was admitted again, and ended again, for 30 s).
 */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Longer tokens are refused as malformed before any decoding. */
export const MAX_TOKEN_LENGTH = 8192;
/** Upper bound on jti/sub/org lengths. */
const MAX_ID_LENGTH = 256;
const HEADER_KEYS = new Set(['alg', 'typ', 'kid']);

export interface ApiKeyClaims {
  keyId: string;
  userId: string;
  organizationId: string;
  permissions: readonly string[];
  expiresAt?: Date;
  notBefore?: Date;
}

/** What a verified token says; structurally a `Principal` plus its times. */
export interface VerifiedApiKey {
  keyId: string;
  userId: string;
  organizationId: string;
  permissions: Permission[];
  issuedAt: Date;
  expiresAt?: Date;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Signs and verifies API-key JWTs (HS256, compact JWS).
 *
 * - Keys: `config.jwtSigningKeys`; the first signs (its id goes in `kid`),
 *   every key verifies, so rotation is "add the new key first, keep the old
 *   one second until its tokens are revoked or expired".
 * - `iss` is `config.jwtIssuer`; `aud` is `config.publicBaseUrl` (the RFC 9728
 *   `resource` identifier of this server). Changing PUBLIC_BASE_URL therefore
 *   invalidates every issued key.
 * - Verification computes HS256 with every configured key (all of them, so
 *   the time does not depend on which one matched) and only after a match
 *   parses the header, which must be exactly `{alg:'HS256', typ, kid}` with
 *   `kid` naming a key whose signature matched. Then the claims are checked.
 * - Every failure of a forged or foreign token is `invalid`; `nbf` or `iat`
 *   in the future (beyond the tolerance) is `invalid` too; only a genuine
 *   token past `exp` is `expired`.
 */
@Injectable()
export class ApiKeyTokenService {
  readonly issuer: string;
  readonly audience: string;
  private readonly keys: readonly SigningKey[];

  constructor(@InjectConfig() config: AppConfig) {
    if (config.jwtSigningKeys.length === 0)
      throw new Error('ApiKeyTokenService: no JWT signing key is configured');
    const kids = new Set(config.jwtSigningKeys.map((k) => k.kid));
    if (kids.size !== config.jwtSigningKeys.length)
      throw new Error('ApiKeyTokenService: duplicate JWT key id');
    if (config.jwtSigningKeys.some((k) => k.secret.length === 0)) {
      throw new Error('ApiKeyTokenService: empty JWT signing secret');
    }
    this.keys = [...config.jwtSigningKeys];
    this.issuer = config.jwtIssuer;
    this.audience = config.publicBaseUrl;
  }

  /** Issues a token for a key record. Throws (a programming error) on bad claims. */
  sign(claims: ApiKeyClaims): string {
    if (!isId(claims.keyId) || !isId(claims.userId) || !isId(claims.organizationId)) {
      throw new TypeError('sign: keyId, userId and organizationId must be non-empty strings');
    }
    const unknown = claims.permissions.filter((p) => !isPermission(p));
    if (unknown.length > 0) throw new TypeError(`sign: unknown permission(s): ${unknown.join(', ')}`);
    const seconds = (d: Date | undefined, name: string): number | undefined => {
      if (d === undefined) return undefined;
      if (!(d instanceof Date) || Number.isNaN(d.getTime()))
        throw new TypeError(`sign: ${name} is not a valid date`);
      return Math.floor(d.getTime() / 1000);
    };
    const exp = seconds(claims.expiresAt, 'expiresAt');
    const nbf = seconds(claims.notBefore, 'notBefore');
    const key = this.keys[0];
    const payload = {
      jti: claims.keyId,
      sub: claims.userId,
      org: claims.organizationId,
      permissions: [...new Set(claims.permissions)],
      iss: this.issuer,
      aud: this.audience,
      iat: Math.floor(Date.now() / 1000),
      ...(exp !== undefined ? { exp } : {}),
      ...(nbf !== undefined ? { nbf } : {}),
    };
    return signHs256({ alg: 'HS256', typ: API_KEY_TOKEN_TYPE, kid: key.kid }, payload, key.secret);
  }

  /** Verifies a token and returns its claims, or throws a `TokenError`. */
  verify(token: string): VerifiedApiKey {
    if (typeof token !== 'string' || token.length === 0) throw new TokenError('missing');
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('malformed');
    const parts = splitCompact(token);
    if (!parts) throw new TokenError('malformed');

    // 1. Signature, against every key, before anything in the token is read.
    const matching = this.keys.filter((k) => hs256Matches(k.secret, parts.signingInput, parts.signature));
    if (matching.length === 0) throw new TokenError('invalid');

    // 2. Header: exactly {alg, typ, kid}; alg pinned; kid names a matching key.
    const header = decodeJsonObject(parts.headerB64);
    if (
      !header ||
      Object.keys(header).some((k) => !HEADER_KEYS.has(k)) ||
      header.alg !== 'HS256' ||
      header.typ !== API_KEY_TOKEN_TYPE ||
      !matching.some((k) => k.kid === header.kid)
    ) {
      throw new TokenError('invalid');
    }

    // 3. Claims: issuer, audience and types first, so a foreign token is never "expired".
    const p = decodeJsonObject(parts.payloadB64);
    if (
      !p ||
      p.iss !== this.issuer ||
      typeof p.aud !== 'string' ||
      !isId(p.jti) ||
      !isId(p.sub) ||
      !isId(p.org) ||
      !Array.isArray(p.permissions) ||
      !p.permissions.every(isPermission) ||
      !isNumericDate(p.iat) ||
      (own(p, 'exp') && !isNumericDate(p.exp)) ||
      (own(p, 'nbf') && !isNumericDate(p.nbf))
    ) {
      throw new TokenError('invalid');
    }
    // Signed by one of our keys and well-formed, but for another resource (no token passthrough).
    if (p.aud !== this.audience) throw new TokenError('wrong_audience', p.aud);

    // 4. Times: issue and start with the tolerance, expiry exactly.
    const now = Date.now() / 1000;
    if (p.iat > now + CLOCK_TOLERANCE_SECONDS) throw new TokenError('invalid');
    if (isNumericDate(p.nbf) && p.nbf > now + CLOCK_TOLERANCE_SECONDS) throw new TokenError('invalid');
    if (isNumericDate(p.exp) && p.exp <= now) throw new TokenError('expired');

    return {
      keyId: p.jti,
      userId: p.sub,
      organizationId: p.org,
      permissions: [...new Set(p.permissions as Permission[])],
      issuedAt: new Date(p.iat * 1000),
      ...(isNumericDate(p.exp) ? { expiresAt: new Date(p.exp * 1000) } : {}),
    };
  }

  /** The token of an `Authorization: Bearer <token>` header; see `extractBearer`. */
  extractBearer(authorizationHeader: string | undefined): string {
    return extractBearer(authorizationHeader);
  }

  /**
   * `verify(extractBearer(req.headers.authorization))`, done once per
   * request: the body reader (before the body is read) and the auth guard
   * both ask, and a success is remembered for that request and header. A
   * failure is not remembered: it throws each time, as `verify` does.
   */
  verifyRequest(req: { headers: { authorization?: string } }): VerifiedApiKey {
    const header = req.headers.authorization;
    const known = this.verifiedRequests.get(req);
    if (known && known.header === header) return known.key;
    const key = this.verify(this.extractBearer(header));
    this.verifiedRequests.set(req, { header, key });
    return key;
  }

  private readonly verifiedRequests = new WeakMap<
    object,
    { header: string | undefined; key: VerifiedApiKey }
  >();
}

/** RFC 6750 b64token: the only characters a bearer credential may contain. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Takes the token out of an Authorization header value. Missing or blank:
 * `missing`; any other scheme, `Bearer` with nothing after it, or a credential
 * with characters outside RFC 6750's b64token: `malformed` (another scheme,
 * or a token without one, with NOT_BEARER_MESSAGE). The scheme name is
 * case-insensitive (RFC 7235).
 */
export function extractBearer(authorizationHeader: string | undefined): string {
  if (typeof authorizationHeader !== 'string' || authorizationHeader.trim() === '')
    throw new TokenError('missing');
  if (authorizationHeader.length > MAX_TOKEN_LENGTH + 64) throw new TokenError('malformed');
  const value = authorizationHeader.trim();
  const match = BEARER.exec(value);
  if (match) return match[1];
  if (!/^bearer(\s|$)/i.test(value)) throw new TokenError('malformed', undefined, NOT_BEARER_MESSAGE);
  throw new TokenError('malformed');
}
