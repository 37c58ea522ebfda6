import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ShopifyCredentials } from '../../credentials/credential-schemas';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp, UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError } from '../http/upstream.errors';
import { GraphQlOutcome, interpretGraphQl } from './shopify-graphql';

/** The longest a throttled query waits for Shopify's bucket before the caller is told when to retry. */
export const MAX_THROTTLE_WAIT_MS = 5_000;
/** Added to the computed wait: the bucket's reported level is rounded down, and clocks differ. */
const THROTTLE_MARGIN_MS = 100;

export interface ShopifyOperation<T> {
  /** The operation name in `query`, also sent as `operationName`. */
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The schema of `data`; an answer that does not match is an `upstream_bad_response`. */
  data: z.ZodType<T>;
}

/**
 * `https://{shop}/admin/api/{apiVersion}/graphql.json`, or the configured base
 * URL (SHOPIFY_BASE_URL, a simulator) in place of `https://{shop}`. `shop` and
 * `apiVersion` were checked when stored (credential schema).
 */
export function shopifyGraphQlUrl(creds: ShopifyCredentials, baseUrl?: string): URL {
  const origin = baseUrl ?? `https://${creds.shop}`;
  return new URL(`${origin}/admin/api/${encodeURIComponent(creds.apiVersion)}/graphql.json`);
}

/**
 * Runs the connector's GraphQL queries against the organisation's shop with
 * its stored access token. A query Shopify throttles (HTTP 200, `THROTTLED`)
 * waits `(requested - currentlyAvailable) / restoreRate` seconds when that is
 * short and is sent once more; otherwise the caller is told when to retry.
 * HTTP-level retries (429/503 with Retry-After) are UpstreamHttp's.
 */
@Injectable()
export class ShopifyClient {
  private readonly baseUrl?: string;
  private readonly maxThrottleWaitMs: number;

  constructor(
    private readonly http: UpstreamHttp,
    private readonly credentials: ConnectorCredentials,
    @InjectConfig() config: AppConfig,
  ) {
    this.baseUrl = config.connectors.baseUrls.shopify;
    this.maxThrottleWaitMs = Math.min(MAX_THROTTLE_WAIT_MS, config.connectors.maxRetryWaitMs);
  }

  async query<T>(ctx: ToolContext, op: ShopifyOperation<T>): Promise<T> {
    const creds = await this.credentials.get(ctx, 'shopify');
    const url = shopifyGraphQlUrl(creds, this.baseUrl);
    const body = JSON.stringify({ query: op.query, variables: op.variables, operationName: op.name });
    for (let attempt = 0; ; attempt++) {
      const res = await this.http.send({
        service: 'shopify',
        method: 'POST',
        url,
        headers: {
          'x-shopify-access-token': creds.accessToken,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body,
        // A GraphQL query reads only: safe to send again after a failure.
        idempotent: true,
        signal: ctx.signal,
      });
      const outcome = interpretGraphQl(readBody(res, creds));
      if (outcome.kind === 'throttled') {
        const waitMs = outcome.waitSeconds === undefined ? undefined : outcome.waitSeconds * 1000;
        if (attempt === 0 && waitMs !== undefined && waitMs <= this.maxThrottleWaitMs) {
          await pause(waitMs + THROTTLE_MARGIN_MS, ctx.signal);
          continue;
        }
        const seconds = waitMs !== undefined && Number.isFinite(waitMs) ? waitMs / 1000 : undefined;
        throw UpstreamError.rateLimited('shopify', seconds);
      }
      return dataOf(outcome, op);
    }
  }
}

/** The JSON body of a 200; any other status becomes the UpstreamError that says what to do. */
function readBody(res: UpstreamResponse, creds: ShopifyCredentials): unknown {
  switch (res.status) {
    case 200:
      return res.json();
    case 401:
    case 403:
      return fail(UpstreamError.rejectedCredentials('shopify', res.status));
    case 404:
      return fail(
        UpstreamError.notFound(
          'shopify',
          `GraphQL Admin API at the shop ${creds.shop} for API version ${creds.apiVersion}; ` +
            'an admin can correct the shop or apiVersion with PUT /credentials/shopify',
        ),
      );
    case 402:
      return fail(
        UpstreamError.accountUnavailable(
          'shopify',
          `answered HTTP 402 Payment Required: the shop ${creds.shop} is frozen (its Shopify bill is unpaid); ` +
            "calls work again once the shop's owner settles it in the Shopify admin.",
        ),
      );
    case 423:
      return fail(
        UpstreamError.accountUnavailable(
          'shopify',
          `answered HTTP 423 Locked: the shop ${creds.shop} is locked by Shopify; its owner must contact Shopify support.`,
        ),
      );
    default:
      return fail(UpstreamError.unexpectedStatus('shopify', res.status));
  }
}

function dataOf<T>(outcome: Exclude<GraphQlOutcome, { kind: 'throttled' }>, op: ShopifyOperation<T>): T {
  if (outcome.kind === 'errors') {
    if (outcome.code === 'INTERNAL_SERVER_ERROR')
      throw new UpstreamError(
        'shopify',
        'upstream_unavailable',
        'Shopify reported an internal error; retry later.',
      );
    const code = outcome.code ? ` (${outcome.code})` : '';
    throw UpstreamError.invalidRequest('shopify', `${outcome.message}${code}`);
  }
  if (outcome.kind === 'malformed')
    throw UpstreamError.badResponse('shopify', 'a GraphQL answer without data');
  const parsed = op.data.safeParse(outcome.data);
  if (!parsed.success) throw UpstreamError.badResponse('shopify', `${op.name} data of an unexpected shape`);
  return parsed.data;
}

function fail(error: UpstreamError): never {
  throw error;
}

/** Waits for Shopify's bucket, giving up when the caller cancels. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw new ToolError('The call was cancelled before the upstream service answered.', 'cancelled');
  }
}
