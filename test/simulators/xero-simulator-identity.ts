/**
 * The identity half of the Xero simulator: apps and their secrets, the token
 * endpoint (client auth by HTTP Basic or in the form; client_credentials for
 * custom connections, refresh_token for OAuth apps, refresh tokens rotating
 * on every use with a grace period for the replaced one, then invalid_grant)
 * and the bearer check of every API call (401 TokenExpired).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { problem, SimAnswer } from './xero-simulator-shapes';

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SimClient {
  clientId: string;
  secret: string;
  kind: 'custom' | 'oauth';
  tenantIds: string[];
}

interface RefreshRecord {
  clientId: string;
  /** When a refresh replaced it; usable until then + the grace period. */
  replacedAt?: number;
}

export class XeroIdentity {
  /** Successful refresh_token grants. */
  refreshCount = 0;
  /** Successful client_credentials grants. */
  clientCredentialsCount = 0;
  /** The refresh token presented by every refresh_token grant, in order (accepted or not). */
  readonly refreshTokensPresented: string[] = [];
  /** Every access and refresh token it issued (tests register them as secrets). */
  readonly issued: string[] = [];
  /** expires_in of new access tokens, in seconds. */
  accessTokenTtlSeconds = 1800;
  /** How long a replaced refresh token stays usable (Xero: 30 minutes). */
  refreshGraceMs = 30 * 60_000;

  protected readonly clients = new Map<string, SimClient>();
  protected readonly refreshTokens = new Map<string, RefreshRecord>();
  protected readonly accessTokens = new Map<string, { clientId: string; expiresAt: number }>();

  /** A custom connection: client_credentials only, connected to `tenantIds`. */
  addCustomConnection(clientId: string, secret: string, tenantIds: string[]): void {
    this.clients.set(clientId, { clientId, secret, kind: 'custom', tenantIds });
  }

  /** An OAuth app that completed the consent flow for `tenantIds`; returns its first refresh token. */
  addOAuthApp(clientId: string, secret: string, tenantIds: string[]): string {
    this.clients.set(clientId, { clientId, secret, kind: 'oauth', tenantIds });
    return this.consent(clientId);
  }

  /** The consent flow again: a new refresh token for the app. */
  consent(clientId: string): string {
    const token = this.token('sim-rt');
    this.refreshTokens.set(token, { clientId });
    return token;
  }

  /** The refresh token the app should hold now (the newest, never replaced). */
  currentRefreshToken(clientId: string): string | undefined {
    let newest: string | undefined;
    for (const [token, r] of this.refreshTokens)
      if (r.clientId === clientId && r.replacedAt === undefined) newest = token;
    return newest;
  }

  /** Makes every access token issued so far expired (the next call answers 401 TokenExpired). */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0;
  }

  /** Forgets the grant counters and presented refresh tokens (not the tokens themselves). */
  clearRecords(): void {
    this.refreshTokensPresented.length = 0;
    this.refreshCount = 0;
    this.clientCredentialsCount = 0;
  }

  private token(prefix: string): string {
    const t = `${prefix}-${randomBytes(24).toString('base64url')}`;
    this.issued.push(t);
    return t;
  }

  /** Client auth by HTTP Basic or by client_id/client_secret in the form. */
  private client(req: SimRequest, form: URLSearchParams): [string, SimClient] | undefined {
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    const client = id === undefined ? undefined : this.clients.get(id);
    return client && client.secret === secret ? [id!, client] : undefined;
  }

  protected tokenAnswer(req: SimRequest): SimAnswer {
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? ''))
      return { status: 400, body: { error: 'invalid_request' } };
    const form = new URLSearchParams(req.body);
    const found = this.client(req, form);
    if (!found) return { status: 400, body: { error: 'invalid_client' } };
    const [clientId, client] = found;
    const grant = form.get('grant_type');
    if (grant === 'client_credentials') {
      if (client.kind !== 'custom') return { status: 400, body: { error: 'unauthorized_client' } };
      this.clientCredentialsCount += 1;
      return { status: 200, body: this.accessToken(clientId) };
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      this.refreshTokensPresented.push(presented);
      // As for client_credentials: a grant the client may not use is refused before its token is looked at.
      if (client.kind !== 'oauth') return { status: 400, body: { error: 'unauthorized_client' } };
      const record = this.refreshTokens.get(presented);
      const usable =
        record?.clientId === clientId &&
        (record.replacedAt === undefined || Date.now() - record.replacedAt < this.refreshGraceMs);
      if (!usable) return { status: 400, body: { error: 'invalid_grant' } };
      for (const r of this.refreshTokens.values())
        if (r.clientId === clientId && r.replacedAt === undefined) r.replacedAt = Date.now();
      const refreshToken = this.token('sim-rt');
      this.refreshTokens.set(refreshToken, { clientId });
      this.refreshCount += 1;
      return {
        status: 200,
        body: { ...this.accessToken(clientId), refresh_token: refreshToken, id_token: 'sim-id-token' },
      };
    }
    return { status: 400, body: { error: 'unsupported_grant_type' } };
  }

  private accessToken(clientId: string): Record<string, unknown> {
    const token = this.token('sim-at');
    this.accessTokens.set(token, { clientId, expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000 });
    return {
      access_token: token,
      expires_in: this.accessTokenTtlSeconds,
      token_type: 'Bearer',
      scope: 'accounting.transactions.read accounting.contacts.read accounting.reports.read',
    };
  }

  /**
   * The client of a valid bearer token, or the 401 Xero answers: TokenExpired
   * (with when, `MM/dd/yyyy HH:mm:ss` UTC) for one it issued that expired,
   * AuthorizationUnsuccessful for none or one it never issued.
   */
  protected bearer(req: SimRequest): SimClient | SimAnswer {
    const auth = req.headers.authorization ?? '';
    const record = auth.startsWith('Bearer ') ? this.accessTokens.get(auth.slice(7)) : undefined;
    if (!record) return problem(401, 'Unauthorized', 'AuthorizationUnsuccessful');
    if (record.expiresAt <= Date.now())
      return problem(401, 'Unauthorized', `TokenExpired: token expired at ${usDateTime(record.expiresAt)}`);
    return this.clients.get(record.clientId)!;
  }
}

/** `04/09/2023 05:16:59`: a UTC time as Xero's TokenExpired message gives it. */
function usDateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
}
