import { z } from 'zod';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import type { ConnectorCredentials } from '../http/connector-credentials.service';
import type { UpstreamHttp, UpstreamRequest, UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError } from '../http/upstream.errors';
import { ShopifyClient, shopifyGraphQlUrl } from './shopify.client';

const CREDS = { shop: 'unit-store.myshopify.com', accessToken: 'shpat_unit', apiVersion: '2025-07' };

/** A stand-in for the network: answers each send with the next scripted (status, body). */
function scripted(answers: [number, unknown][]) {
  const sent: UpstreamRequest[] = [];
  const http = {
    send: (req: UpstreamRequest): Promise<UpstreamResponse> => {
      sent.push(req);
      const [status, body] = answers.shift() ?? [500, {}];
      const text = JSON.stringify(body);
      return Promise.resolve({
        status,
        headers: new Headers(),
        text,
        json: () => JSON.parse(text) as unknown,
      });
    },
  };
  return { http: http as unknown as UpstreamHttp, sent };
}

function client(answers: [number, unknown][], baseUrl?: string, maxRetryWaitMs = 10_000) {
  const { http, sent } = scripted(answers);
  const credentials = { get: () => Promise.resolve(CREDS) } as unknown as ConnectorCredentials;
  const config = { connectors: { baseUrls: { shopify: baseUrl }, maxRetryWaitMs } } as AppConfig;
  return { client: new ShopifyClient(http, credentials, config), sent };
}

const ctx = (signal = new AbortController().signal) => ({ signal }) as ToolContext;
const op = {
  name: 'Shop',
  query: 'query Shop { shop { name } }',
  variables: {},
  data: z.object({ shop: z.object({ name: z.string() }) }),
};
const cost = (requested: number, available: number, restoreRate: number) => ({
  cost: {
    requestedQueryCost: requested,
    actualQueryCost: null,
    throttleStatus: { maximumAvailable: 1000, currentlyAvailable: available, restoreRate },
  },
});
const throttled = (requested: number, available: number, restoreRate = 100): [number, unknown] => [
  200,
  {
    errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
    extensions: cost(requested, available, restoreRate),
  },
];
const ok: [number, unknown] = [200, { data: { shop: { name: 'Unit' } }, extensions: cost(1, 999, 100) }];

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

describe('shopifyGraphQlUrl', () => {
  it('is the shop host with the stored API version, or the configured base URL in its place', () => {
    expect(shopifyGraphQlUrl(CREDS).href).toBe(
      'https://unit-store.myshopify.com/admin/api/2025-07/graphql.json',
    );
    expect(shopifyGraphQlUrl(CREDS, 'http://127.0.0.1:4321').href).toBe(
      'http://127.0.0.1:4321/admin/api/2025-07/graphql.json',
    );
  });
});

describe('ShopifyClient', () => {
  it('posts the query as an idempotent request with the stored token and returns the checked data', async () => {
    const { client: c, sent } = client([ok]);
    const call = ctx();
    await expect(c.query(call, op)).resolves.toEqual({ shop: { name: 'Unit' } });
    expect(sent[0]).toMatchObject({ service: 'shopify', method: 'POST', idempotent: true });
    // The caller's cancellation reaches the request itself, not only the waits between attempts.
    expect(sent[0].signal).toBe(call.signal);
    expect(sent[0].headers?.['x-shopify-access-token']).toBe('shpat_unit');
    expect(JSON.parse(sent[0].body!)).toEqual({ query: op.query, variables: {}, operationName: 'Shop' });
  });

  it('waits once for a short throttle and retries', async () => {
    const { client: c, sent } = client([throttled(30, 10, 100), ok]);
    const t0 = Date.now();
    await expect(c.query(ctx(), op)).resolves.toEqual({ shop: { name: 'Unit' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(sent).toHaveLength(2);
  });

  it('gives up after a second throttle, saying when to retry', async () => {
    const { client: c, sent } = client([throttled(30, 10, 100), throttled(300, 0, 100)]);
    const e = await failure(c.query(ctx(), op));
    expect(e.code).toBe('upstream_rate_limited');
    expect(e.retryAfterSeconds).toBe(3);
    expect(sent).toHaveLength(2);
  });

  it('does not wait for a long throttle, nor for a bucket that does not restore', async () => {
    const slow = client([throttled(700, 100, 50)]);
    const e = await failure(slow.client.query(ctx(), op));
    expect(e.retryAfterSeconds).toBe(12);
    expect(slow.sent).toHaveLength(1);

    const stuck = client([throttled(10, 0, 0)]);
    expect((await failure(stuck.client.query(ctx(), op))).message).toContain('retry in a minute');
  });

  it('waits for the bucket no longer than UPSTREAM_MAX_RETRY_WAIT_MS when that is under 5 s', async () => {
    // 300 ms allowed: a 300 ms wait is waited out, a 400 ms one is not.
    const within = client([throttled(40, 10, 100), ok], undefined, 300);
    await expect(within.client.query(ctx(), op)).resolves.toEqual({ shop: { name: 'Unit' } });
    expect(within.sent).toHaveLength(2);
    const beyond = client([throttled(50, 10, 100), ok], undefined, 300);
    expect((await failure(beyond.client.query(ctx(), op))).retryAfterSeconds).toBe(1);
    expect(beyond.sent).toHaveLength(1);
  });

  it('stops waiting for the bucket when the caller cancels', async () => {
    const { client: c } = client([throttled(400, 0, 100), ok]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const t0 = Date.now();
    await expect(c.query(ctx(abort.signal), op)).rejects.toMatchObject({ code: 'cancelled' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it.each([
    [401, 'upstream_rejected_credentials', 'PUT /credentials/shopify'],
    [403, 'upstream_rejected_credentials', 'PUT /credentials/shopify'],
    [404, 'upstream_not_found', 'unit-store.myshopify.com for API version 2025-07'],
    [402, 'upstream_account_unavailable', 'the shop unit-store.myshopify.com is frozen'],
    [423, 'upstream_account_unavailable', 'the shop unit-store.myshopify.com is locked by Shopify'],
    [418, 'upstream_unexpected_status', 'HTTP 418'],
  ])('maps HTTP %i to %s', async (status, code, words) => {
    const e = await failure(client([[status, { errors: 'x' }]]).client.query(ctx(), op));
    expect(e.code).toBe(code);
    expect(e.message).toContain(words);
  });

  it('maps GraphQL errors: a refusal quoting the message and code, an internal error as unavailable', async () => {
    const denied = [
      200,
      { errors: [{ message: 'Access denied for orders field.', extensions: { code: 'ACCESS_DENIED' } }] },
    ];
    const e = await failure(client([denied as [number, unknown]]).client.query(ctx(), op));
    expect(e.code).toBe('upstream_invalid_request');
    expect(e.message).toBe('Shopify refused the request: Access denied for orders field. (ACCESS_DENIED)');

    const internal = [
      200,
      { errors: [{ message: 'Internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
    ];
    expect((await failure(client([internal as [number, unknown]]).client.query(ctx(), op))).code).toBe(
      'upstream_unavailable',
    );
  });

  it('calls data of another shape a bad response', async () => {
    const e = await failure(client([[200, { data: { shop: { name: 42 } } }]]).client.query(ctx(), op));
    expect(e.code).toBe('upstream_bad_response');
    expect(e.message).toContain('Shop data of an unexpected shape');
  });
});
