import { createHash, createHmac } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp, UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamQuota } from '../http/upstream-quota.service';
import { UpstreamError } from '../http/upstream.errors';
import {
  CUSTOMERS_PAGE,
  errorDetail,
  PRODUCTS_PAGE,
  PURCHASE_ORDERS_PAGE,
  SALES_ORDERS_PAGE,
  STOCK_ON_HAND_PAGE,
} from './unleashed.mapping';

/**
 * Unleashed over HTTP (UPSTREAMS.md): every request signed with the
 * organisation's stored API id and key, paging in the path
 * (`/{Resource}/{page}?pageSize=N`), the envelope validated before anything
 * is handed on. Retries, timeouts, the circuit breaker and 429/5xx handling
 * are the foundation's (UpstreamHttp); this class reads the other statuses.
 */

/** Each resource the connector reads, with the schema its page is validated and mapped with. */
const PAGES = {
  Products: PRODUCTS_PAGE,
  StockOnHand: STOCK_ON_HAND_PAGE,
  SalesOrders: SALES_ORDERS_PAGE,
  PurchaseOrders: PURCHASE_ORDERS_PAGE,
  Customers: CUSTOMERS_PAGE,
} as const;

export type UnleashedResource = keyof typeof PAGES;
/** A resource's page as the tools return it. */
export type UnleashedPage<R extends UnleashedResource> = {
  [K in UnleashedResource]: z.output<(typeof PAGES)[K]>;
}[R];

/** Query filters as Unleashed names them; undefined ones are left out. */
export type UnleashedQuery = Record<string, string | number | boolean | undefined>;

export interface PageRequest {
  page: number;
  pageSize: number;
}

/** base64(HMAC-SHA256(key = API key as UTF-8, message = the query string without `?`, "" when none)). */
export function unleashedSignature(query: string, apiKey: string): string {
  return createHmac('sha256', Buffer.from(apiKey, 'utf8')).update(query, 'utf8').digest('base64');
}

/**
 * `{base}/{resource}/{page}?pageSize=N&filters...`, filters in the order
 * given, undefined ones left out. The query is encoded once here, and the
 * signature is computed over exactly `url.search` as it will be sent.
 */
export function unleashedUrl(
  base: string,
  resource: UnleashedResource,
  paging: PageRequest,
  query: UnleashedQuery,
): URL {
  const url = new URL(`${base.replace(/\/+$/, '')}/${resource}/${paging.page}`);
  const params = new URLSearchParams();
  params.set('pageSize', String(paging.pageSize));
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  url.search = params.toString();
  return url;
}

/** The headers of one signed request. */
export function unleashedHeaders(
  url: URL,
  credentials: { apiId: string; apiKey: string },
): Record<string, string> {
  return {
    'api-auth-id': credentials.apiId,
    'api-auth-signature': unleashedSignature(url.search.replace(/^\?/, ''), credentials.apiKey),
    accept: 'application/json',
    'content-type': 'application/json',
    'client-type': 'sentia/mcp',
  };
}

/**
 * Reads an answer other than the foundation's own errors: 2xx is parsed with
 * `schema` (anything else is `upstream_bad_response`), 400 becomes
 * `invalidRequest` with a message from a known field, 401/403 rejected
 * credentials, 404 not found, anything else an unexpected status.
 */
export function readUnleashedResponse<T extends z.ZodType>(
  response: UpstreamResponse,
  resource: UnleashedResource,
  schema: T,
): z.output<T> {
  const { status } = response;
  if (status >= 200 && status < 300) {
    const parsed = schema.safeParse(response.json());
    if (!parsed.success)
      throw UpstreamError.badResponse('unleashed', `a ${resource} page that is not the documented envelope`);
    return parsed.data;
  }
  if (status === 401 || status === 403) throw UpstreamError.rejectedCredentials('unleashed', status);
  if (status === 404) throw UpstreamError.notFound('unleashed', `the ${resource} resource`);
  if (status === 400)
    throw UpstreamError.invalidRequest('unleashed', detailOf(response) ?? 'HTTP 400 with no message');
  throw UpstreamError.unexpectedStatus('unleashed', status);
}

function detailOf(response: UpstreamResponse): string | undefined {
  try {
    return errorDetail(JSON.parse(response.text));
  } catch {
    return undefined;
  }
}

/**
 * The monthly quota is the Unleashed account's, so organisations that store
 * the same API id and key share one count. The key is part of it: were the id
 * alone the scope, an organisation that learnt another's API id (not a
 * secret) could store it with any key and spend that account's count here,
 * since a request counts when it is sent, before Unleashed checks its
 * signature. So a new key (rotated mid-month) starts a count of its own. The
 * store key carries a digest, never the id or the key; ids that differ only
 * in case are one account.
 */
export function quotaScope(apiId: string, apiKey: string): string {
  return createHash('sha256').update(`${apiId.trim().toLowerCase()}\n${apiKey}`).digest('hex').slice(0, 32);
}

@Injectable()
export class UnleashedClient {
  constructor(
    private readonly http: UpstreamHttp,
    private readonly credentials: ConnectorCredentials,
    private readonly quota: UpstreamQuota,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** One page of `resource`, filtered by `query`, validated and mapped. */
  async list<R extends UnleashedResource>(
    ctx: ToolContext,
    resource: R,
    paging: PageRequest,
    query: UnleashedQuery,
  ): Promise<UnleashedPage<R>> {
    const credentials = await this.credentials.get(ctx, 'unleashed');
    const url = unleashedUrl(this.config.connectors.baseUrls.unleashed, resource, paging, query);
    const monthly = this.config.connectors.unleashedMonthlyQuota;
    const account = monthly > 0 ? quotaScope(credentials.apiId, credentials.apiKey) : undefined;
    const response = await this.http.send({
      service: 'unleashed',
      method: 'GET',
      url,
      headers: unleashedHeaders(url, credentials),
      signal: ctx.signal,
      beforeAttempt:
        account === undefined ? undefined : () => this.quota.takeMonthly('unleashed', account, monthly),
    });
    // TypeScript cannot follow a generic key into PAGES: the schema of R is the one that maps to UnleashedPage<R>.
    const schema = PAGES[resource] as unknown as z.ZodType<UnleashedPage<R>>;
    return readUnleashedResponse(response, resource, schema);
  }
}
