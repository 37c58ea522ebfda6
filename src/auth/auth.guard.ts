import { CanActivate, ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { RequestContext } from '../observability/request-context';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { IS_PUBLIC } from '../common/public.decorator';
import { REQUIRED_PERMISSION } from './auth.decorators';
import {
  AuthEventsReporter,
  RefusalCause,
  unauthorizedReason,
  VerifiedKeyFacts,
} from './auth-events.reporter';
import { authUnavailable, insufficientScope, unauthorized } from './auth-responses';
import { KeyUsageRecorder } from './key-usage.recorder';
import { KnownKeysCache } from './known-keys.cache';
import { Principal, PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from './principal';
import { RevocationService } from './revocation.service';
import { decodeJsonObject } from './tokens/compact-jws';
import { ApiKeyTokenService, VerifiedApiKey } from './tokens/api-key-token.service';
import { hasPermission, Permission } from './tokens/permissions';
import { TokenError } from './tokens/token-errors';

/** Query parameters that carry a token by convention; any of them gets the request refused. */
const QUERY_TOKEN_PARAMS = new Set(['access_token', 'token', 'api_key', 'apikey', 'jwt']);
/** A JWS-looking value (`eyJ...` header) anywhere in the query string is refused as well. */
const JWS_LIKE = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Runs on every authenticated request once its principal is on the request
 * and its permission checked; refuses the request by throwing (an
 * HttpException becomes the answer). Registered with `AuthGuard.addCheck`.
 */
export interface AuthenticatedRequestCheck {
  afterAuthentication(ctx: ExecutionContext): Promise<void>;
}

/**
 * The global guard (APP_GUARD). Every route needs a valid API key unless it
 * is `@Public()` or under `/health`, `/.well-known/` (or `/metrics` when
 * METRICS_PUBLIC): then it passes untouched.
 *
 * 1. A request with a token in its query string is refused (401 malformed),
 *    even when it also has an Authorization header: the token has leaked into
 *    URLs and logs, and the caller must learn that.
 * 2. `Authorization: Bearer` only; the token is verified (signature first).
 * 3. Revocation from memory; the key id must have a record (cached lookup).
 *    While revocation state is unknown: 503 + Retry-After, never admission.
 * 4. The principal goes on the request; the key's use is recorded (batched).
 * 5. `@RequirePermission` is checked: 403 insufficient_scope naming it.
 * 6. The checks registered with `addCheck` run (the per-key rate limit):
 *    guards run in no promised order, so a check that needs the principal
 *    runs here, right after it is known, rather than as a guard of its own.
 *
 * Refusals are security events (AuthEventsReporter): logged at warn with the
 * key id when one is known (verified), never the token, the path without its
 * query; counted in `auth_failures_total{reason}`; audited in the background.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly checks: AuthenticatedRequestCheck[] = [];

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: ApiKeyTokenService,
    private readonly revocation: RevocationService,
    private readonly knownKeys: KnownKeysCache,
    private readonly usage: KeyUsageRecorder,
    private readonly events: AuthEventsReporter,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return false;
    const http = ctx.switchToHttp();
    const req = http.getRequest<Request & RequestWithPrincipal>();
    const res = http.getResponse<Response>();
    if (this.isPublic(ctx, req)) return true;

    const principal = await this.authenticate(req, res);
    req[PRINCIPAL_REQUEST_KEY] = principal;
    // Every later log line of this request names the caller (never the token).
    RequestContext.setPrincipal({
      keyId: principal.keyId,
      organizationId: principal.organizationId,
      userId: principal.userId,
    });
    this.usage.record(principal.keyId);

    const needed = this.reflector.getAllAndOverride<Permission | undefined>(REQUIRED_PERMISSION, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (needed && !hasPermission(principal.permissions, needed)) {
      this.events.forbidden(req, res, principal, needed);
      throw insufficientScope(res, this.config.publicBaseUrl, needed);
    }
    for (const check of this.checks) await check.afterAuthentication(ctx);
    return true;
  }

  /** Adds a check run on every authenticated request after authentication (see AuthenticatedRequestCheck). */
  addCheck(check: AuthenticatedRequestCheck): void {
    this.checks.push(check);
  }

  private async authenticate(req: Request, res: Response): Promise<Principal> {
    if (tokenInQuery(req)) {
      this.events.unauthorized(req, res, 'token_in_query');
      throw unauthorized(
        res,
        this.config.publicBaseUrl,
        'malformed',
        'API keys are accepted only in the Authorization header, never in the query string',
      );
    }
    let key: VerifiedApiKey;
    try {
      // Usually verified already, by the body reader: once per request.
      key = this.tokens.verifyRequest(req);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      // Both come after the bearer was read and its signature checked: the token's claims are ours.
      const signed = err.reason === 'expired' || err.reason === 'wrong_audience';
      const facts = signed ? verifiedFactsOf(this.tokens.extractBearer(req.headers.authorization)) : {};
      const detail =
        err.reason === 'wrong_audience'
          ? `issued for ${JSON.stringify((err.audience ?? '').slice(0, 200))}, not for this server's ` +
            `PUBLIC_BASE_URL ${JSON.stringify(this.config.publicBaseUrl)}`
          : undefined;
      throw this.refuse(req, res, err.reason, facts, detail, err.message);
    }

    const verdict = this.revocation.check(key.keyId);
    if (verdict === 'unknown') {
      this.events.unavailable(req, res, 'revocation_state_unknown', key.keyId);
      throw authUnavailable(res);
    }
    const facts = factsOf(key);
    if (verdict === 'revoked') throw this.refuse(req, res, 'revoked', facts);

    const record = await this.knownKeys.lookup(key.keyId, key.organizationId);
    if (record === 'unavailable') {
      this.events.unavailable(req, res, 'key_lookup_failed', key.keyId);
      throw authUnavailable(res);
    }
    if (record === 'unknown') throw this.refuse(req, res, 'unknown_key', facts);
    // A revoked key found by the lookup was added to the revoked set just now.
    if (this.revocation.check(key.keyId) === 'revoked') {
      throw this.refuse(req, res, 'revoked', facts);
    }
    return {
      keyId: key.keyId,
      userId: key.userId,
      organizationId: key.organizationId,
      permissions: key.permissions,
      ...(key.expiresAt ? { expiresAt: key.expiresAt } : {}),
    };
  }

  private refuse(
    req: Request,
    res: Response,
    cause: RefusalCause,
    key: VerifiedKeyFacts,
    detail?: string,
    message = new TokenError(cause === 'token_in_query' ? 'malformed' : cause).message,
  ): HttpException {
    this.events.unauthorized(req, res, cause, key, detail);
    return unauthorized(res, this.config.publicBaseUrl, unauthorizedReason(cause), message);
  }

  private isPublic(ctx: ExecutionContext, req: Request): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const path = req.path;
    return (
      path === '/health' ||
      path.startsWith('/health/') ||
      path.startsWith('/.well-known/') ||
      (this.config.metricsPublic && path === '/metrics')
    );
  }
}

function tokenInQuery(req: Request): boolean {
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf('?');
  if (q < 0) return false;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(q + 1));
  } catch {
    return false;
  }
  for (const [name, value] of params) {
    if (QUERY_TOKEN_PARAMS.has(name.toLowerCase()) || JWS_LIKE.test(value.replace(/^Bearer\s+/i, '')))
      return true;
  }
  return false;
}

/** The caller facts of a verified token. */
function factsOf(key: VerifiedApiKey): VerifiedKeyFacts {
  return { keyId: key.keyId, userId: key.userId, organizationId: key.organizationId };
}

/**
 * The key id, user and organisation of a token the service refused as
 * `expired`: that reason is only given after the signature, header and claims
 * all checked out, so the payload is genuine and may be logged and audited.
 */
function verifiedFactsOf(token: string): VerifiedKeyFacts {
  const payload = decodeJsonObject(token.split('.')[1] ?? '');
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { keyId: str(payload?.jti), userId: str(payload?.sub), organizationId: str(payload?.org) };
}
