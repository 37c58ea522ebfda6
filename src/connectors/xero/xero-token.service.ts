import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig, ConnectorsConfig } from '../../config/config.types';
import type { XeroCredentials } from '../../credentials/credential-schemas';
import { CredentialRevision, CredentialsService } from '../../credentials/credentials.service';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { KeyValueStore } from '../../store/key-value-store';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp } from '../http/upstream-http.service';
import { UpstreamError } from '../http/upstream.errors';

type XeroOAuthApp = Extract<XeroCredentials, { grantType: 'authorization_code' }>;

/** An access token held in this process only: never logged, stored or returned. */
export interface XeroAccessToken {
  readonly accessToken: string;
  /** Epoch ms after which it is not used (60 s before Xero's expiry). */
  readonly usableUntil: number;
  /** The app it was issued to: credentials replaced with another app's make it stale. */
  readonly clientId: string;
  /** The grant it was issued under: credentials stored since for another grant make it stale (see XeroTokens.sameGrant). */
  readonly grant: XeroGrant;
}

/**
 * What an access token was issued under, as digests (never the secrets).
 * A custom connection's grant is its client id and secret. An OAuth app's
 * is a lineage: the refresh token an admin stored and every one rotated from
 * it since, named by the digest of the first; `known` holds the digests of
 * the lineage's refresh tokens this process has seen.
 */
export interface XeroGrant {
  readonly lineage: string;
  readonly known: Set<string>;
}

/** A token is not used in its last minute, so it never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;
const TOKEN_TIMEOUT_MS = 10_000;
/** Time left, under the lock, for reading the credentials before and storing the rotated ones after. */
const LOCK_STORE_MARGIN_MS = 15_000;
/** How long a refresh waits for another holder of the lock before telling the caller to retry. */
const LOCK_WAIT_MS = 20_000;
const LOCK_POLL_MS = 100;
/** What a refresh gives when an admin replaced the stored credentials while Xero answered it. */
const REPLACED = Symbol('credentials replaced during the refresh');
/**
 * How long the store remembers which lineage a rotated refresh token belongs
 * to: longer than an access token lives (30 minutes), so every token still in
 * use was issued before any rotation that is no longer remembered.
 */
const LINEAGE_TTL_MS = 60 * 60_000;

/**
 * Names a secret without revealing it (refresh tokens and client secrets are
 * long random strings, so a SHA-256 of one cannot be turned back or guessed).
 */
const digest = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('base64url');
const lineageKey = (orgId: string, refreshTokenDigest: string) =>
  `xero:lineage:${orgId}:${refreshTokenDigest}`;

/**
 * The refresh lock's lifetime: longer than all a refresh may take while
 * holding it. The token request is sent again after a 408, 429 or 529
 * (UpstreamHttp), so the worst case is every attempt timing out with the
 * longest wait between them, then the store write. A lock that lapsed
 * mid-refresh would let another instance refresh with the same refresh
 * token and fork the rotation.
 */
export function refreshLockTtlMs(
  connectors: Pick<ConnectorsConfig, 'maxRetries' | 'maxRetryWaitMs'>,
): number {
  return (
    (connectors.maxRetries + 1) * TOKEN_TIMEOUT_MS +
    connectors.maxRetries * connectors.maxRetryWaitMs +
    LOCK_STORE_MARGIN_MS
  );
}

/**
 * Xero access tokens per organisation, in this process's memory: a custom
 * connection gets one with the client_credentials grant, an OAuth app with
 * its stored refresh token. Refresh tokens rotate on every use, so a refresh
 * runs under a lock in the shared store (one instance at a time), starts from
 * the credentials as stored now (the database, not the cache), and stores the
 * new refresh token before the new access token is used: if storing fails the
 * token is not used, and the old refresh token stays valid for Xero's grace
 * period. The store is a compare-and-set on the record the refresh read: an
 * admin's PUT /credentials/xero that landed meanwhile (it takes no lock) is
 * kept, the tokens from the replaced grant are discarded, and the refresh runs
 * once more from the admin's credentials. Concurrent calls of one
 * organisation on this instance share one token request.
 *
 * A cached access token is used only while the stored credentials are of the
 * grant it was issued under: an admin who stores another refresh token (a
 * new consent, another Xero organisation, an old grant cut off) or another
 * client secret gets a new token on the next call on every instance, not up
 * to 30 minutes later. A rotation is not such a change: the instance that
 * rotates records in the shared store, before storing the new refresh token,
 * that it belongs to the same lineage, so other instances keep their tokens.
 */
@Injectable()
export class XeroTokens {
  private readonly logger = new Logger(XeroTokens.name);
  private readonly cache = new Map<string, XeroAccessToken>();
  private readonly inFlight = new Map<string, Promise<XeroAccessToken>>();
  private readonly tokenUrl: URL;
  private readonly lockTtlMs: number;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly http: UpstreamHttp,
    private readonly connectorCredentials: ConnectorCredentials,
    private readonly credentials: CredentialsService,
    private readonly store: KeyValueStore,
  ) {
    this.tokenUrl = new URL(`${config.connectors.baseUrls.xeroIdentity}/connect/token`);
    this.lockTtlMs = refreshLockTtlMs(config.connectors);
  }

  /** A usable access token for the caller's organisation (cached, or fetched once for all concurrent callers). */
  async get(ctx: ToolContext, credentials: XeroCredentials): Promise<XeroAccessToken> {
    const orgId = ctx.principal!.organizationId;
    const cached = this.cache.get(orgId);
    if (cached && Date.now() < cached.usableUntil && (await this.sameGrant(orgId, cached, credentials)))
      return cached;
    let pending = this.inFlight.get(orgId);
    if (!pending) {
      pending = this.fetch(ctx, credentials).finally(() => this.inFlight.delete(orgId));
      this.inFlight.set(orgId, pending);
    }
    return pending;
  }

  /**
   * Whether `credentials` (as stored now) are of the grant `token` was issued
   * under: the same custom connection, or a refresh token of the same lineage
   * (its own, or one rotated from it here or on another instance). A store
   * that cannot say counts as no: a refresh costs less than an old grant.
   */
  private async sameGrant(
    orgId: string,
    token: XeroAccessToken,
    credentials: XeroCredentials,
  ): Promise<boolean> {
    if (token.clientId !== credentials.clientId) return false;
    if (credentials.grantType === 'client_credentials')
      return token.grant.lineage === digest(`${credentials.clientId}:${credentials.clientSecret}`);
    const stored = digest(credentials.refreshToken ?? '');
    if (token.grant.known.has(stored)) return true;
    let lineage: string | null;
    try {
      // Recorded when it was rotated; a refresh token never rotated (an admin's) is the root of its own.
      lineage = (await this.store.get(lineageKey(orgId, stored))) ?? stored;
    } catch {
      return false;
    }
    if (lineage !== token.grant.lineage) return false;
    token.grant.known.add(stored);
    return true;
  }

  /** Forgets a token Xero refused, unless a newer one already replaced it. */
  drop(ctx: ToolContext, token: XeroAccessToken): void {
    const orgId = ctx.principal!.organizationId;
    if (this.cache.get(orgId) === token) this.cache.delete(orgId);
  }

  private async fetch(ctx: ToolContext, credentials: XeroCredentials): Promise<XeroAccessToken> {
    const orgId = ctx.principal!.organizationId;
    const token =
      credentials.grantType === 'client_credentials'
        ? await this.clientCredentials(credentials)
        : await this.refresh(ctx, orgId);
    this.cache.set(orgId, token);
    return token;
  }

  /**
   * A refresh whose credentials an admin replaced while Xero answered is
   * discarded and run again from the new ones: the caller gets what the
   * credentials stored now give. Replaced again during that second one, the
   * call ends with a tool error rather than go on chasing the admin's writes.
   */
  private async refresh(ctx: ToolContext, orgId: string): Promise<XeroAccessToken> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const token = await this.refreshUnderLock(ctx, orgId);
      if (token !== REPLACED) return token;
      this.logger.log({
        message: 'Xero credentials replaced during a token refresh; its tokens were discarded',
        organizationId: orgId,
        attempt,
      });
    }
    throw new ToolError(
      'The Xero credentials were replaced twice while this call refreshed its token, so the tokens issued for ' +
        'the replaced ones were not used; retry the call.',
      'xero_credentials_changed',
    );
  }

  private async clientCredentials(credentials: XeroCredentials): Promise<XeroAccessToken> {
    const grant = {
      lineage: digest(`${credentials.clientId}:${credentials.clientSecret}`),
      known: new Set<string>(),
    };
    const answer = await this.tokenRequest(credentials, { grant_type: 'client_credentials' }, grant);
    return answer.token;
  }

  private async refreshUnderLock(
    ctx: ToolContext,
    orgId: string,
  ): Promise<XeroAccessToken | typeof REPLACED> {
    const lockKey = `xero:refresh-lock:${orgId}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    let lock = await this.store.tryLock(lockKey, this.lockTtlMs);
    while (!lock) {
      if (Date.now() > deadline)
        throw new ToolError(
          'Another server instance has been refreshing the Xero token for this organisation for too long; retry in a few seconds.',
          'xero_refresh_busy',
        );
      await sleep(LOCK_POLL_MS);
      lock = await this.store.tryLock(lockKey, this.lockTtlMs);
    }
    try {
      // Read under the lock, from the database: another instance may have rotated the refresh token
      // meanwhile, and this instance's cache may not have heard of it yet.
      const { value: credentials, revision } = await this.connectorCredentials.getForUpdate(ctx, 'xero');
      if (credentials.grantType === 'client_credentials') return await this.clientCredentials(credentials);
      if (!credentials.refreshToken)
        throw new UpstreamError(
          'xero',
          'upstream_rejected_credentials',
          "The stored Xero credentials are an OAuth app without a refresh token: an admin must complete Xero's " +
            'consent flow and store the refresh token it gives as `refreshToken` with PUT /credentials/xero.',
        );
      const presented = digest(credentials.refreshToken);
      // The lineage of the stored refresh token: recorded when it was rotated, else it is an admin's and starts one.
      const lineage = (await this.store.get(lineageKey(orgId, presented)).catch(() => null)) ?? presented;
      const grant: XeroGrant = { lineage, known: new Set([presented]) };
      const answer = await this.tokenRequest(
        credentials,
        {
          grant_type: 'refresh_token',
          refresh_token: credentials.refreshToken,
        },
        grant,
      );
      if (answer.refreshToken && answer.refreshToken !== credentials.refreshToken) {
        const rotated = digest(answer.refreshToken);
        grant.known.add(rotated);
        // Recorded before the rotated token is stored, so no instance sees it stored without its lineage.
        // Unrecorded (the store failed), other instances take it for an admin's and refresh: dearer, not wrong.
        await this.store
          .set(lineageKey(orgId, rotated), lineage, { ttlMs: LINEAGE_TTL_MS })
          .catch((e: unknown) =>
            this.logger.warn({ message: 'Xero refresh token lineage not recorded', error: e }),
          );
        const stored = await this.storeRotated(orgId, credentials, revision, answer.refreshToken);
        if (stored === 'changed') return REPLACED;
      }
      return answer.token;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * Stores the rotated refresh token unless the record changed since it was
   * read (`changed`: an admin's PUT, which stands; the new tokens are then
   * not used).
   */
  private async storeRotated(
    orgId: string,
    credentials: XeroOAuthApp,
    revision: CredentialRevision,
    refreshToken: string,
  ): Promise<'replaced' | 'changed'> {
    try {
      return await this.credentials.replaceIfUnchanged(orgId, 'xero', revision, {
        ...credentials,
        refreshToken,
      });
    } catch {
      throw new ToolError(
        'Xero issued a new refresh token but it could not be stored, so it was not used; retry the call ' +
          '(the stored refresh token stays valid for 30 minutes). If the Xero credentials were removed, an admin can store them again with PUT /credentials/xero.',
        'xero_refresh_not_stored',
      );
    }
  }

  private async tokenRequest(
    credentials: XeroCredentials,
    form: Record<string, string>,
    grant: XeroGrant,
  ): Promise<{ token: XeroAccessToken; refreshToken?: string }> {
    const basic = Buffer.from(
      `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`,
    ).toString('base64');
    const res = await this.http.send({
      service: 'xero',
      method: 'POST',
      url: this.tokenUrl,
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      idempotent: false,
      timeoutMs: TOKEN_TIMEOUT_MS,
    });
    if (res.status === 200) {
      const body = res.json() as Record<string, unknown> | null;
      const accessToken = body?.access_token;
      const expiresIn = typeof body?.expires_in === 'number' ? body.expires_in : 1800;
      if (typeof accessToken !== 'string' || accessToken === '')
        throw UpstreamError.badResponse('xero', 'a token answer without an access token');
      const refreshToken = typeof body?.refresh_token === 'string' ? body.refresh_token : undefined;
      return {
        token: {
          accessToken,
          usableUntil: Date.now() + expiresIn * 1000 - EXPIRY_MARGIN_MS,
          clientId: credentials.clientId,
          grant,
        },
        refreshToken,
      };
    }
    const error = res.status === 400 ? oauthError(res.text) : undefined;
    if (error === 'invalid_grant' && form.grant_type === 'refresh_token')
      throw new UpstreamError(
        'xero',
        'upstream_rejected_credentials',
        'Xero refused the stored refresh token: it expired (60 days unused) or was replaced by a newer one. ' +
          "An admin must complete Xero's consent flow again and store the new `refreshToken` with PUT /credentials/xero.",
      );
    if (res.status === 401 || (res.status === 400 && error !== undefined && error !== 'invalid_request'))
      throw UpstreamError.rejectedCredentials('xero', res.status);
    throw UpstreamError.unexpectedStatus('xero', res.status);
  }
}

/** The `error` code of an OAuth error answer (RFC 6749 5.2), never anything else of it. */
function oauthError(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: unknown } | null)?.error;
    return typeof error === 'string' && /^[a-z_]{1,40}$/.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}
