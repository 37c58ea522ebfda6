/**
 * The upstream HTTP client against a real local HTTP server: retries and
 * their limits, Retry-After, time limits, body bounds, redirects, the
 * circuit breaker, cancellation and its metric.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpstreamHttp, UpstreamRequest } from '../../src/connectors/http/upstream-http.service';
import { UpstreamError } from '../../src/connectors/http/upstream.errors';
import { MetricsService } from '../../src/metrics/metrics.service';
import { ToolError } from '../../src/mcp/tool-pipeline.service';
import { configFor } from '../support/test-config';
import { ScriptedUpstream } from '../support/scripted-upstream';

const dataDir = mkdtempSync(join(tmpdir(), 'sentia-upstream-'));

function client(env: Record<string, string> = {}): { http: UpstreamHttp; metrics: MetricsService } {
  const metrics = new MetricsService();
  const config = configFor(dataDir, {
    UPSTREAM_TIMEOUT_MS: '500',
    UPSTREAM_MAX_RETRIES: '2',
    UPSTREAM_MAX_RETRY_WAIT_MS: '2000',
    UPSTREAM_MAX_BODY_BYTES: '2048',
    UPSTREAM_BREAKER_FAILURES: '100',
    ...env,
  });
  return { http: new UpstreamHttp(config, metrics), metrics };
}

async function counted(metrics: MetricsService, status: string): Promise<number> {
  const metric = await metrics.upstreamRequestsTotal.get();
  return (
    metric.values.find((v) => v.labels.service === 'unleashed' && v.labels.status === status)?.value ?? 0
  );
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(e)}`);
  return e;
}

describe('UpstreamHttp', () => {
  let up: ScriptedUpstream;
  let other: ScriptedUpstream;
  const get = (extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
    service: 'unleashed',
    method: 'GET',
    url: new URL(`${up.url}/Products/1?pageSize=2`),
    headers: { accept: 'application/json', 'x-test-secret': 'upstream-secret-1' },
    ...extra,
  });

  beforeAll(async () => {
    up = await ScriptedUpstream.start();
    other = await ScriptedUpstream.start();
  });
  afterAll(async () => {
    await up.close();
    await other.close();
  });

  it('returns a 2xx answer with its body and headers, sent as asked, and counts it', async () => {
    const { http, metrics } = client();
    up.script({ status: 200, body: '{"Items":[1,2]}', headers: { 'x-minlimit-remaining': '59' } });
    const res = await http.send(get());
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ Items: [1, 2] });
    expect(res.headers.get('x-minlimit-remaining')).toBe('59');
    expect(up.seen).toHaveLength(1);
    expect(up.seen[0]).toMatchObject({ method: 'GET', url: '/Products/1?pageSize=2' });
    expect(up.seen[0].headers['x-test-secret']).toBe('upstream-secret-1');
    expect(await counted(metrics, '200')).toBe(1);
  });

  it('returns 4xx answers to the connector without retrying them', async () => {
    const { http } = client();
    up.script({ status: 403, body: '{"description":"bad signature"}' });
    const res = await http.send(get());
    expect(res.status).toBe(403);
    expect(up.seen).toHaveLength(1);
  });

  it('retries a GET after a 503 and returns the answer that follows', async () => {
    const { http, metrics } = client();
    up.script({ status: 503, headers: { 'retry-after-ms': '20' } }, { status: 200, body: '{"ok":true}' });
    const res = await http.send(get());
    expect(res.json()).toEqual({ ok: true });
    expect(up.seen).toHaveLength(2);
    expect(await counted(metrics, '503')).toBe(1);
    expect(await counted(metrics, '200')).toBe(1);
  });

  it('runs beforeAttempt before every attempt, retries included, and sends nothing once it refuses', async () => {
    const { http } = client();
    let taken = 0;
    const budget = (max: number) => async () => {
      taken += 1;
      if (taken > max) throw UpstreamError.monthlyQuotaUsed('unleashed', max, Date.UTC(2027, 0, 1), 60);
    };
    up.script({ status: 503, headers: { 'retry-after-ms': '20' } }, { status: 200, body: '{"ok":true}' });
    await http.send(get({ beforeAttempt: budget(3) }));
    expect(taken).toBe(2);
    expect(up.seen).toHaveLength(2);
    // The third attempt is allowed, the fourth (its retry) is not: the refusal ends the call.
    up.script({ status: 503, headers: { 'retry-after-ms': '20' } }, { status: 200 });
    const e = await failure(http.send(get({ beforeAttempt: budget(3) })));
    expect(e.code).toBe('upstream_quota_exhausted');
    expect(taken).toBe(4);
    expect(up.seen).toHaveLength(1);
  });

  it('sends a POST that failed with a 5xx only once (its effect is unknown) and says the service is failing', async () => {
    const { http } = client();
    up.script({ status: 502 }, { status: 200 });
    const e = await failure(http.send(get({ method: 'POST', body: '{}' })));
    expect(e.code).toBe('upstream_unavailable');
    expect(e.message).toBe('Unleashed is failing (HTTP 502); retry later.');
    expect(up.seen).toHaveLength(1);
  });

  it('retries a POST refused with 429 or 529 (not acted on), after the Retry-After asked', async () => {
    const { http } = client();
    up.script(
      { status: 429, headers: { 'retry-after': '1' } },
      { status: 529 },
      { status: 200, body: '"done"' },
    );
    const started = Date.now();
    const res = await http.send(get({ method: 'POST', body: '{}' }));
    expect(res.json()).toBe('done');
    expect(up.seen).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not wait a Retry-After longer than allowed: it tells the caller when to retry', async () => {
    const { http } = client();
    up.script({ status: 429, headers: { 'retry-after': '60' } }, { status: 200 });
    const e = await failure(http.send(get()));
    expect(e.code).toBe('upstream_rate_limited');
    expect(e.retryAfterSeconds).toBe(60);
    expect(e.message).toBe('Unleashed is rate limiting requests for this organisation; retry after 60 s.');
    expect(up.seen).toHaveLength(1);
  });

  it("hands the 429 that ends a call (its headers, the wait asked) to onRateLimited, whose error is the call's", async () => {
    const { http } = client();
    const seen: { problem: string | null; waitMs: number | undefined }[] = [];
    const onRateLimited = (headers: Headers, waitMs: number | undefined) => {
      seen.push({ problem: headers.get('x-rate-limit-problem'), waitMs });
      return Promise.resolve(new UpstreamError('unleashed', 'upstream_rate_limited', 'named limit'));
    };
    // Waited out and retried: not the end of the call, so not handed on.
    up.script(
      { status: 429, headers: { 'retry-after': '0', 'x-rate-limit-problem': 'minute' } },
      { status: 429, headers: { 'retry-after': '60', 'x-rate-limit-problem': 'day' }, body: 'secret body' },
    );
    const e = await failure(http.send(get({ onRateLimited })));
    expect(e.message).toBe('named limit');
    expect(seen).toEqual([{ problem: 'day', waitMs: 60_000 }]);
    // An unreadable Retry-After is no wait; a hook that gives nothing leaves the generic error.
    up.script({ status: 429, headers: { 'retry-after': 'later' } });
    const generic = await failure(
      http.send(
        get({
          onRateLimited: (headers, waitMs) => {
            seen.push({ problem: headers.get('x-rate-limit-problem'), waitMs });
            return Promise.resolve(undefined);
          },
        }),
      ),
    );
    expect(generic.message).toBe(
      'Unleashed is rate limiting requests for this organisation; retry in a minute.',
    );
    expect(seen[1]).toEqual({ problem: null, waitMs: undefined });
  });

  it('gives up after the allowed retries when the upstream keeps refusing', async () => {
    const { http } = client({ UPSTREAM_MAX_RETRIES: '1' });
    up.script({ status: 429, headers: { 'retry-after-ms': '10' } });
    const e = await failure(http.send(get()));
    expect(e.code).toBe('upstream_rate_limited');
    expect(up.seen).toHaveLength(2);
  });

  it('ends an attempt that outlives its time limit, retries it, then reports a timeout', async () => {
    const { http, metrics } = client({ UPSTREAM_TIMEOUT_MS: '200', UPSTREAM_MAX_RETRIES: '1' });
    up.script({ hang: true });
    const e = await failure(http.send(get()));
    expect(e.code).toBe('upstream_timeout');
    expect(up.seen).toHaveLength(2);
    expect(await counted(metrics, 'error')).toBe(2);
  });

  it('reports an upstream it cannot connect to as unreachable, after retrying', async () => {
    const { http } = client({ UPSTREAM_MAX_RETRIES: '1' });
    const gone = await ScriptedUpstream.start();
    const url = new URL(`${gone.url}/x`);
    await gone.close();
    const e = await failure(http.send(get({ url })));
    expect(e.code).toBe('upstream_unreachable');
    expect(e.message).toBe('Unleashed could not be reached (network error); retry later.');
  });

  it('refuses a body over the limit, declared or streamed, and does not retry it', async () => {
    const { http } = client();
    up.script({ status: 200, body: 'x'.repeat(4096) });
    expect((await failure(http.send(get()))).code).toBe('upstream_response_too_large');
    expect(up.seen).toHaveLength(1);
    up.script({ status: 200, body: 'y'.repeat(4096), chunked: 512 });
    const e = await failure(http.send(get()));
    expect(e.code).toBe('upstream_response_too_large');
    expect(e.message).toBe('Unleashed answered more than 2048 bytes; ask for a smaller page.');
  });

  it('refuses a declared length over the limit from its header, without waiting for the body', async () => {
    const { http } = client({ UPSTREAM_MAX_RETRIES: '0' });
    // The header promises more than the limit; the body never comes.
    up.script({ status: 200, body: '{}', headers: { 'content-length': '4096' } });
    expect((await failure(http.send(get()))).code).toBe('upstream_response_too_large');
  });

  it('accepts a body of exactly the limit and refuses one byte more', async () => {
    const { http } = client();
    up.script({ status: 200, body: 'x'.repeat(2048), chunked: 512 });
    expect((await http.send(get())).text).toHaveLength(2048);
    up.script({ status: 200, body: 'x'.repeat(2049), chunked: 512 });
    expect((await failure(http.send(get()))).code).toBe('upstream_response_too_large');
  });

  it('an answer too large is an answer: it does not count against the circuit', async () => {
    const { http } = client({ UPSTREAM_BREAKER_FAILURES: '1', UPSTREAM_MAX_RETRIES: '0' });
    up.script({ status: 200, body: 'x'.repeat(4096) });
    for (let i = 0; i < 3; i++)
      expect((await failure(http.send(get()))).code).toBe('upstream_response_too_large');
    expect(up.seen).toHaveLength(3);
  });

  it('does not follow a redirect, so the credentials headers never reach another host', async () => {
    const { http } = client();
    other.script({ status: 200 });
    up.script({ status: 302, headers: { location: `${other.url}/steal` } });
    const res = await http.send(get());
    expect(res.status).toBe(302);
    expect(other.seen).toHaveLength(0);
  });

  it('says a body that is not JSON is unreadable, without quoting it', async () => {
    const { http } = client();
    up.script({ status: 200, body: '<html>secret-in-page</html>' });
    const res = await http.send(get());
    let caught: unknown;
    try {
      res.json();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpstreamError);
    expect((caught as UpstreamError).code).toBe('upstream_bad_response');
    expect((caught as UpstreamError).message).not.toContain('secret-in-page');
  });

  it('opens the circuit after consecutive failures, refuses calls without sending them, then lets a trial close it', async () => {
    const { http, metrics } = client({
      UPSTREAM_BREAKER_FAILURES: '3',
      UPSTREAM_BREAKER_OPEN_MS: '300',
      UPSTREAM_MAX_RETRIES: '0',
    });
    const circuit = async () =>
      (await metrics.upstreamCircuitOpen.get()).values.find((v) => v.labels.service === 'unleashed')?.value;
    up.script({ status: 500 });
    for (let i = 0; i < 3; i++) expect((await failure(http.send(get()))).code).toBe('upstream_unavailable');
    expect(up.seen).toHaveLength(3);
    const refused = await failure(http.send(get()));
    expect(refused.code).toBe('upstream_circuit_open');
    expect(refused.message).toMatch(
      /^Unleashed has been failing, so calls to it are paused; retry after 1 s\.$/,
    );
    expect(up.seen).toHaveLength(3);
    expect(await circuit()).toBe(1);

    await new Promise((r) => setTimeout(r, 350));
    up.script({ status: 200, body: '{}' });
    expect((await http.send(get())).status).toBe(200);
    expect((await http.send(get())).status).toBe(200);
    expect(up.seen).toHaveLength(2);
    expect(await circuit()).toBe(0);
  });

  it("one origin's failures open its circuit only: another organisation's Shopify shop is still called", async () => {
    const { http, metrics } = client({ UPSTREAM_BREAKER_FAILURES: '2', UPSTREAM_MAX_RETRIES: '0' });
    const circuit = async () =>
      (await metrics.upstreamCircuitOpen.get()).values.find((v) => v.labels.service === 'shopify')?.value;
    const shop = (base: string): UpstreamRequest => ({
      service: 'shopify',
      method: 'POST',
      url: new URL(`${base}/admin/api/2025-10/graphql.json`),
      body: '{}',
      idempotent: true,
    });
    up.script({ status: 503 });
    other.script({ status: 200, body: '{}' });
    for (let i = 0; i < 2; i++)
      expect((await failure(http.send(shop(up.url)))).code).toBe('upstream_unavailable');
    expect((await failure(http.send(shop(up.url)))).code).toBe('upstream_circuit_open');
    expect(await circuit()).toBe(1);
    expect((await http.send(shop(other.url))).status).toBe(200);
    expect((await http.send(shop(other.url))).status).toBe(200);
    expect(other.seen).toHaveLength(2);
    expect(await circuit()).toBe(1);
  });

  it('a stored value no HTTP header can carry is told as such: not sent, not retried, not a failure of the service', async () => {
    const { http } = client({ UPSTREAM_BREAKER_FAILURES: '2' });
    up.script({ status: 200, body: '{}' });
    for (let i = 0; i < 3; i++) {
      const e = await failure(http.send(get({ headers: { 'x-api-key': 'stored-key-1\r\nx-injected: 1' } })));
      expect(e.code).toBe('credentials_unreadable');
      expect(e.message).toContain('PUT /credentials/unleashed');
      expect(e.message).not.toContain('stored-key-1');
    }
    expect(up.seen).toHaveLength(0);
    expect((await http.send(get())).status).toBe(200);
  });

  it('spends no quota on an attempt the open circuit refuses, and a trial refused by its quota frees the trial', async () => {
    const { http } = client({
      UPSTREAM_BREAKER_FAILURES: '1',
      UPSTREAM_BREAKER_OPEN_MS: '200',
      UPSTREAM_MAX_RETRIES: '0',
    });
    let taken = 0;
    const counting = async () => {
      taken += 1;
    };
    up.script({ status: 503 });
    await failure(http.send(get({ beforeAttempt: counting })));
    expect(taken).toBe(1);
    // Open: refused unsent, and so not counted against the upstream's quota.
    expect((await failure(http.send(get({ beforeAttempt: counting })))).code).toBe('upstream_circuit_open');
    expect(taken).toBe(1);
    expect(up.seen).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 250));
    // The trial's quota is used up: nothing is sent, and the next call may be the trial.
    const refused = await failure(
      http.send(
        get({
          beforeAttempt: () =>
            Promise.reject(UpstreamError.monthlyQuotaUsed('unleashed', 1, Date.UTC(2027, 0, 1), 60)),
        }),
      ),
    );
    expect(refused.code).toBe('upstream_quota_exhausted');
    up.script({ status: 200, body: '{}' });
    expect((await http.send(get())).status).toBe(200);
    expect(up.seen).toHaveLength(1);
  });

  it('a trial its caller cancels frees the trial: the next call is let through', async () => {
    const { http } = client({
      UPSTREAM_BREAKER_FAILURES: '1',
      UPSTREAM_BREAKER_OPEN_MS: '200',
      UPSTREAM_MAX_RETRIES: '0',
      UPSTREAM_TIMEOUT_MS: '5000',
    });
    up.script({ status: 503 });
    await failure(http.send(get()));
    await new Promise((r) => setTimeout(r, 250));
    up.script({ hang: true });
    const cancel = new AbortController();
    const trial = http.send(get({ signal: cancel.signal })).catch((e: unknown) => e);
    while (up.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    cancel.abort();
    expect(((await trial) as ToolError).code).toBe('cancelled');
    up.script({ status: 200, body: '{}' });
    expect((await http.send(get())).status).toBe(200);
  });

  it("upstream_circuit_open stays 1 while another of the service's origins is still open", async () => {
    const { http, metrics } = client({
      UPSTREAM_BREAKER_FAILURES: '1',
      UPSTREAM_BREAKER_OPEN_MS: '200',
      UPSTREAM_MAX_RETRIES: '0',
    });
    const circuit = async () =>
      (await metrics.upstreamCircuitOpen.get()).values.find((v) => v.labels.service === 'unleashed')?.value;
    up.script({ status: 503 });
    other.script({ status: 503 });
    await failure(http.send(get()));
    await failure(http.send(get({ url: new URL(`${other.url}/Products/1`) })));
    expect(await circuit()).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    up.script({ status: 200, body: '{}' });
    other.script({ status: 200, body: '{}' });
    expect((await http.send(get())).status).toBe(200);
    expect(await circuit()).toBe(1);
    expect((await http.send(get({ url: new URL(`${other.url}/Products/1`) }))).status).toBe(200);
    expect(await circuit()).toBe(0);
  });

  it('keeps an open circuit when it has to forget breakers: only closed ones are dropped', async () => {
    const { http } = client({
      UPSTREAM_BREAKER_FAILURES: '1',
      UPSTREAM_BREAKER_OPEN_MS: '60000',
      UPSTREAM_MAX_RETRIES: '0',
    });
    up.script({ status: 503 });
    await failure(http.send(get()));
    expect(http.circuitOf('unleashed', up.url).state).toBe('open');
    // A thousand other origins, each given a breaker; none is sent anything.
    const refuse = () => Promise.reject(new UpstreamError('unleashed', 'upstream_unreachable', 'not sent'));
    for (let i = 0; i < 1000; i++)
      await failure(http.send(get({ url: new URL(`http://shop-${i}.invalid/x`), beforeAttempt: refuse })));
    expect(http.circuitOf('unleashed', up.url).state).toBe('open');
    expect((await failure(http.send(get()))).code).toBe('upstream_circuit_open');
    expect(up.seen).toHaveLength(1);
  });

  it('a failed trial opens the circuit again', async () => {
    const { http } = client({
      UPSTREAM_BREAKER_FAILURES: '1',
      UPSTREAM_BREAKER_OPEN_MS: '200',
      UPSTREAM_MAX_RETRIES: '0',
    });
    up.script({ status: 503 });
    await failure(http.send(get()));
    await new Promise((r) => setTimeout(r, 250));
    expect((await failure(http.send(get()))).code).toBe('upstream_unavailable');
    expect((await failure(http.send(get()))).code).toBe('upstream_circuit_open');
    expect(up.seen).toHaveLength(2);
  });

  it('a 4xx or a 429 does not count against the circuit', async () => {
    const { http } = client({ UPSTREAM_BREAKER_FAILURES: '2', UPSTREAM_MAX_RETRIES: '0' });
    up.script(
      { status: 404 },
      { status: 404 },
      { status: 429 },
      { status: 429 },
      { status: 429 },
      { status: 200 },
    );
    expect((await http.send(get())).status).toBe(404);
    expect((await http.send(get())).status).toBe(404);
    for (let i = 0; i < 3; i++) expect((await failure(http.send(get()))).code).toBe('upstream_rate_limited');
    expect((await http.send(get())).status).toBe(200);
    expect(up.seen).toHaveLength(6);
  });

  it('stops when the caller cancels, during an attempt or a wait before a retry', async () => {
    const { http, metrics } = client({ UPSTREAM_TIMEOUT_MS: '5000', UPSTREAM_MAX_RETRY_WAIT_MS: '60000' });
    up.script({ hang: true });
    const during = new AbortController();
    setTimeout(() => during.abort(), 100);
    const e1 = await http.send(get({ signal: during.signal })).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ToolError);
    expect((e1 as ToolError).code).toBe('cancelled');
    // The caller went away; the upstream did not fail.
    expect(await counted(metrics, 'error')).toBe(0);

    // A wait far longer than the test's time limit: the call ends only if the cancellation ends the wait.
    up.script({ status: 503, headers: { 'retry-after': '30' } });
    const waiting = new AbortController();
    setTimeout(() => waiting.abort(), 200);
    const e2 = await http.send(get({ signal: waiting.signal })).catch((e: unknown) => e);
    expect((e2 as ToolError).code).toBe('cancelled');
    expect(up.seen).toHaveLength(1);
  });
});
