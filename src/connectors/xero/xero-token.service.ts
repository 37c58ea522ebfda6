import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig, ConnectorsConfig } from '../../config/config.types';
import type { XeroCredentials } from '../../credentials/credential-schemas';
import { CredentialsService } from '../../credentials/credentials.service';
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
}

/** A token is not used in its last minute, so it never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;
const TOKEN_TIMEOUT_MS = 10_000;
/** Time left, under the lock, for reading the credentials before and storing the rotated ones after. */
const LOCK_STORE_MARGIN_MS = 15_000;
/** How long a refresh waits for another holder of the lock before telling the caller to retry. */
const LOCK_WAIT_MS = 20_000;
const LOCK_POLL_MS = 100;
/** How long this instance waits for its credentials cache to learn of another instance's rotation. */
const STALE_WAIT_MS = 1_000;
const MARKER_TTL_MS = 24 * 3600_000;

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
 * the credentials as stored now, and stores the new refresh token before the
 * new access token is used: if storing fails the token is not used, and the
 * old refresh token stays valid for Xero's grace period. Concurrent calls of
 * one organisation on this instance share one token request.
 */
@Injectable()
export class XeroTokens {
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
    if (cached && cached.clientId === credentials.clientId && Date.now() < cached.usableUntil) return cached;
    let pending = this.inFlight.get(orgId);
    if (!pending) {
      pending = this.fetch(ctx, credentials).finally(() => this.inFlight.delete(orgId));
      this.inFlight.set(orgId, pending);
    }
    return pending;
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
        : await this.refreshUnderLock(ctx, orgId);
    this.cache.set(orgId, token);
    return token;
  }

  private async clientCredentials(credentials: XeroCredentials): Promise<XeroAccessToken> {
    const answer = await this.tokenRequest(credentials, { grant_type: 'client_credentials' });
    return answer.token;
  }

  private async refreshUnderLock(ctx: ToolContext, orgId: string): Promise<XeroAccessToken> {
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
      // Read under the lock: another instance may have rotated the refresh token meanwhile.
      const credentials = await this.currentCredentials(ctx, orgId);
      if (credentials.grantType === 'client_credentials') return await this.clientCredentials(credentials);
      if (!credentials.refreshToken)
        throw new UpstreamError(
          'xero',
          'upstream_rejected_credentials',
          "The stored Xero credentials are an OAuth app without a refresh token: an admin must complete Xero's " +
            'consent flow and store the refresh token it gives as `refreshToken` with PUT /credentials/xero.',
        );
      const answer = await this.tokenRequest(credentials, {
        grant_type: 'refresh_token',
        refresh_token: credentials.refreshToken,
      });
      if (answer.refreshToken && answer.refreshToken !== credentials.refreshToken)
        await this.storeRotated(orgId, credentials, answer.refreshToken);
      return answer.token;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * The stored credentials, not older than the last rotation any instance
   * made: the credentials cache of this instance learns of another's write by
   * pub/sub, which may lag the lock, so the rotation marker (a fingerprint of
   * the newest refresh token) tells whether the cached value is behind.
   */
  private async currentCredentials(ctx: ToolContext, orgId: string): Promise<XeroCredentials> {
    const marker = await this.store.get(markerKey(orgId)).catch(() => null);
    const deadline = Date.now() + STALE_WAIT_MS;
    for (;;) {
      const credentials = await this.connectorCredentials.get(ctx, 'xero');
      const current =
        marker === null ||
        credentials.grantType !== 'authorization_code' ||
        (credentials.refreshToken !== undefined && fingerprint(credentials.refreshToken) === marker);
      if (current) return credentials;
      if (Date.now() > deadline) {
        // Still different: either the cache missed the invalidation or an admin stored a new refresh
        // token since; the database decides.
        this.credentials.clearCache();
        return this.connectorCredentials.get(ctx, 'xero');
      }
      await sleep(50);
    }
  }

  private async storeRotated(orgId: string, credentials: XeroOAuthApp, refreshToken: string): Promise<void> {
    try {
      await this.credentials.update(orgId, 'xero', { ...credentials, refreshToken });
    } catch {
      throw new ToolError(
        'Xero issued a new refresh token but it could not be stored, so it was not used; retry the call ' +
          '(the stored refresh token stays valid for 30 minutes). If the Xero credentials were removed, an admin can store them again with PUT /credentials/xero.',
        'xero_refresh_not_stored',
      );
    }
    await this.store
      .set(markerKey(orgId), fingerprint(refreshToken), { ttlMs: MARKER_TTL_MS })
      .catch(() => undefined);
  }

  private async tokenRequest(
    credentials: XeroCredentials,
    form: Record<string, string>,
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

const markerKey = (orgId: string): string => `xero:refresh-rotated:${orgId}`;

/** Enough of a hash to compare refresh tokens by; reveals nothing of them. */
function fingerprint(refreshToken: string): string {
  return createHash('sha256').update(refreshToken).digest('hex').slice(0, 32);
}
