import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { XeroCredentials } from '../../credentials/credential-schemas';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamConcurrency } from '../http/upstream-concurrency.service';
import { UpstreamHttp, UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamQuota } from '../http/upstream-quota.service';
import { UpstreamError } from '../http/upstream.errors';
import { mapConnections, Tenant, validationDetail } from './xero-mapping';
import {
  boundedWaitMs,
  dayLimitSpent,
  isTenantProblem,
  rateLimitProblem,
  restOfUtcDayMs,
  TENANT_PROBLEMS,
  xeroLimitHit,
} from './xero-rate-limits';
import { XeroAccessToken, XeroTokens } from './xero-token.service';
import { canonicalGuid, GUID } from '../../common/guid';

/** Xero's published per-tenant limits, kept here so that Xero never has to refuse us. */
const PER_MINUTE = { max: 60, windowMs: 60_000, what: '60 calls a minute per tenant and app' };
const PER_DAY = { max: 5000, windowMs: 86_400_000, what: '5000 calls a day per tenant and app' };
/** And per app, across all its tenants. */
const APP_PER_MINUTE = { max: 10_000, windowMs: 60_000, what: '10000 calls a minute per app' };
/** 5 calls at a time; a call waits this long for one of them to finish. */
const AT_ONCE = { max: 5, waitMs: 5000 };
const MAX_LISTED_TENANTS = 20;

export interface AccountingRequest {
  /** The tenant the caller named, if any, in its canonical form (lower case, as the tool's argument schema gives it). */
  tenantId?: string;
  /** Under /api.xro/2.0, e.g. `Invoices`. */
  path: string;
  query: Record<string, string | undefined>;
  headers?: Record<string, string>;
  /** What a 404 means, for its message ("invoice ..."). */
  what: string;
}

/**
 * Xero as the tools see it: the caller organisation's tenants and GETs on the
 * Accounting API for one tenant, with the token (a 401 drops it and the call
 * is made once more with a new one), the tenant header, the per-tenant
 * quotas and limit of calls at a time, and Xero's error answers turned into
 * tool errors.
 */
@Injectable()
export class XeroClient {
  /** The tenants GET /connections gave for a token, kept as long as the token. */
  private readonly tenants = new WeakMap<XeroAccessToken, Tenant[]>();
  private readonly apiBase: string;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly http: UpstreamHttp,
    private readonly tokens: XeroTokens,
    private readonly credentials: ConnectorCredentials,
    private readonly quota: UpstreamQuota,
    private readonly concurrency: UpstreamConcurrency,
  ) {
    this.apiBase = config.connectors.baseUrls.xeroApi;
  }

  /** The tenants this organisation's Xero credentials may use (those of /connections, within the stored tenantIds if any). */
  async listTenants(ctx: ToolContext): Promise<Tenant[]> {
    const credentials = await this.credentials.get(ctx, 'xero');
    return allowed(credentials, await this.connections(ctx, credentials));
  }

  /**
   * For an admin's live check: the tenants GET /connections gives now (asked
   * even when this token's are kept), how many in all, and those the stored
   * tenantIds allow.
   */
  async checkTenants(ctx: ToolContext): Promise<{ connected: number; allowed: Tenant[] }> {
    const credentials = await this.credentials.get(ctx, 'xero');
    const tenants = await this.connections(ctx, credentials, true);
    return { connected: tenants.length, allowed: allowed(credentials, tenants) };
  }

  /** The JSON body of a GET on the Accounting API (null for 304 Not Modified), and the tenant it was for. */
  async accounting(ctx: ToolContext, req: AccountingRequest): Promise<{ tenantId: string; body: unknown }> {
    const credentials = await this.credentials.get(ctx, 'xero');
    const tenantId = await this.tenantFor(ctx, credentials, req.tenantId);
    const url = new URL(`${this.apiBase}/api.xro/2.0/${req.path}`);
    for (const [k, v] of Object.entries(req.query)) if (v !== undefined) url.searchParams.set(k, v);
    // Xero's limits are per app and tenant, so organisations here that use one Xero app (client id) for
    // one tenant share them. Every tenant id here is in its canonical (lower-case) form, whether the
    // caller named it (the argument schema), it is stored (storedTenantIds) or Xero listed it (mapConnections).
    const app = xeroAppScope(credentials.clientId);
    const scope = `${app}:${tenantId}`;
    // A slot of the tenant's 5 is taken before the quotas (a call refused for want of one uses none
    // of the minute) and held through the request's retries; not while a token is got or refreshed.
    // Each attempt, a retry too, is a call Xero counts: the quotas are taken before every one. The
    // tenant's first: a call its own tenant's limit refuses must not spend the budget its app's other
    // tenants (other organisations, maybe) share.
    // Before those, a hold: Xero said (a 429, on any instance) that this tenant's minute or day is used
    // up until a given time, so until then nothing is sent and nothing of a quota spent.
    const takeQuotas = async () => {
      const held = await this.quota.held('xero', scope, TENANT_PROBLEMS);
      if (held && isTenantProblem(held.reason)) throw xeroLimitHit(held.reason, tenantId, held.leftMs);
      await this.quota.take('xero', scope, PER_MINUTE);
      await this.quota.take('xero', scope, PER_DAY);
      await this.quota.take('xero', app, APP_PER_MINUTE);
    };
    const res = await this.withToken(ctx, credentials, (token) =>
      this.concurrency.run('xero', scope, AT_ONCE, ctx.signal, () =>
        this.http.send({
          service: 'xero',
          method: 'GET',
          url,
          headers: {
            authorization: `Bearer ${token.accessToken}`,
            'xero-tenant-id': tenantId,
            accept: 'application/json',
            ...req.headers,
          },
          signal: ctx.signal,
          beforeAttempt: takeQuotas,
          onRateLimited: async (headers, retryAfterMs) => {
            const problem = rateLimitProblem(headers);
            const wait = boundedWaitMs(retryAfterMs);
            if (wait !== undefined && isTenantProblem(problem))
              await this.quota.hold('xero', scope, problem, wait);
            return xeroLimitHit(problem, tenantId, wait);
          },
        }),
      ),
    );
    // The call that spent the tenant's day: the next would get Xero's 429, so it is held here until
    // the day this server counts in (UTC) ends; a 429 after that says how long Xero still wants.
    if ((res.status === 200 || res.status === 304) && dayLimitSpent(res.headers))
      await this.quota.hold('xero', scope, 'day', restOfUtcDayMs());
    if (res.status === 200) return { tenantId, body: res.json() };
    if (res.status === 304) return { tenantId, body: null };
    if (res.status === 400) {
      const detail = safeDetail(res);
      throw detail
        ? UpstreamError.invalidRequest('xero', detail)
        : UpstreamError.unexpectedStatus('xero', 400);
    }
    if (res.status === 403)
      throw new UpstreamError(
        'xero',
        'upstream_rejected_credentials',
        `This organisation's Xero connection has no access to tenant ${tenantId} (HTTP 403); ` +
          'xero_list_tenants lists the tenants it can use, or an admin can connect this tenant to the Xero app.',
      );
    if (res.status === 404) throw UpstreamError.notFound('xero', req.what);
    throw UpstreamError.unexpectedStatus('xero', res.status);
  }

  private async connections(
    ctx: ToolContext,
    credentials: XeroCredentials,
    fresh = false,
  ): Promise<Tenant[]> {
    let used: XeroAccessToken | undefined;
    const res = await this.withToken(ctx, credentials, (token) => {
      used = token;
      const cached = this.tenants.get(token);
      if (cached && !fresh) return Promise.resolve(undefined);
      return this.http.send({
        service: 'xero',
        method: 'GET',
        url: new URL(`${this.apiBase}/connections`),
        headers: { authorization: `Bearer ${token.accessToken}`, accept: 'application/json' },
        signal: ctx.signal,
      });
    });
    if (res === undefined) return this.tenants.get(used!)!;
    if (res.status !== 200) throw UpstreamError.unexpectedStatus('xero', res.status);
    const tenants = mapConnections(res.json());
    this.tenants.set(used!, tenants);
    return tenants;
  }

  /** The tenant a call goes to: the one named (if the credentials allow it), else the only one there is. */
  private async tenantFor(ctx: ToolContext, credentials: XeroCredentials, named?: string): Promise<string> {
    const stored = storedTenantIds(credentials);
    if (named) {
      if (stored && !stored.includes(named))
        throw new ToolError(
          `Tenant ${named} is not one of the Xero tenants this organisation's credentials allow ` +
            `(${stored.join(', ')}); xero_list_tenants lists them, or an admin can add it to tenantIds with PUT /credentials/xero.`,
          'xero_tenant_not_allowed',
        );
      return named;
    }
    if (stored?.length === 1) return stored[0];
    const tenants = allowed(credentials, await this.connections(ctx, credentials));
    if (tenants.length === 1) return tenants[0].tenantId;
    if (tenants.length === 0)
      throw new ToolError(
        'No Xero tenant (organisation) is connected for this organisation; an admin must connect one to the Xero app.',
        'xero_no_tenant',
      );
    const listed = tenants
      .slice(0, MAX_LISTED_TENANTS)
      .map((t) => `${t.tenantId} (${(t.tenantName ?? 'unnamed').slice(0, 80)})`)
      .join(', ');
    throw new ToolError(
      `Several Xero tenants are connected; pass tenantId, one of: ${listed}` +
        (tenants.length > MAX_LISTED_TENANTS
          ? `, and ${tenants.length - MAX_LISTED_TENANTS} more (xero_list_tenants).`
          : '.'),
      'xero_tenant_required',
    );
  }

  /** Runs `call` with a token; on a 401 drops it and runs once more with a new one. A second 401 is a refusal. */
  private async withToken<T extends UpstreamResponse | undefined>(
    ctx: ToolContext,
    credentials: XeroCredentials,
    call: (token: XeroAccessToken) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokens.get(ctx, credentials);
      const res = await call(token);
      if (res?.status !== 401) return res;
      this.tokens.drop(ctx, token);
      if (attempt >= 1) throw UpstreamError.rejectedCredentials('xero', 401);
    }
  }
}

/**
 * Which Xero app a call's limits count against: a digest of the stored
 * client id (a credential, so never in a store key as it is).
 */
export function xeroAppScope(clientId: string): string {
  return createHash('sha256').update(clientId).digest('hex').slice(0, 32);
}

/**
 * The stored tenantIds, each checked to be a GUID: one goes out as the
 * xero-tenant-id header and into messages. The credential schema refuses
 * anything else now; a record stored before it did is caught here, never
 * sent (a line break in a header value made fetch throw, which read as Xero
 * being unreachable and counted against the circuit breaker). Given in
 * lower case (canonicalGuid), the form a caller's tenantId is taken in, so
 * an admin's capitals name the same tenant, budget and header.
 */
export function storedTenantIds(credentials: XeroCredentials): string[] | undefined {
  if (credentials.grantType !== 'authorization_code' || !credentials.tenantIds?.length) return undefined;
  if (!credentials.tenantIds.every((id) => GUID.test(id)))
    throw new ToolError(
      "The stored Xero tenantIds must each be a tenant's GUID as xero_list_tenants gives it; " +
        'an admin can correct them with PUT /credentials/xero.',
      'xero_tenant_ids_invalid',
    );
  return credentials.tenantIds.map(canonicalGuid);
}

function allowed(credentials: XeroCredentials, tenants: Tenant[]): Tenant[] {
  const stored = storedTenantIds(credentials);
  return stored ? tenants.filter((t) => stored.includes(t.tenantId)) : tenants;
}

function safeDetail(res: UpstreamResponse): string | undefined {
  try {
    return validationDetail(res.json());
  } catch {
    return undefined;
  }
}
