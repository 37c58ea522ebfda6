import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig, ConnectorsConfig } from '../../config/config.types';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { MetricsService } from '../../metrics/metrics.service';
import { BreakerState, CircuitBreaker } from './circuit-breaker';
import { backoffMs, retryAfterMs } from './retry-after';
import { SERVICE_NAMES, UpstreamError, UpstreamService } from './upstream.errors';

export type { UpstreamService } from './upstream.errors';

export interface UpstreamRequest {
  service: UpstreamService;
  method: 'GET' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  /** Already serialised. */
  body?: string;
  /** May be sent again after a failure that leaves its effect unknown (default: GET yes, POST no). */
  idempotent?: boolean;
  /** The call's own cancellation (the MCP client cancelled or went away). */
  signal?: AbortSignal;
  /** One attempt's limit, body included (default: UPSTREAM_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Runs before each attempt the circuit breaker lets through, retries
   * included (each one is a request the upstream counts); throwing ends the
   * call with that error, unsent.
   */
  beforeAttempt?: () => Promise<void>;
  /**
   * Runs when a 429 ends the call (not waited out and retried), with that
   * answer's headers and the wait it asked for (undefined when its
   * Retry-After is absent or unreadable); the error it returns is thrown
   * instead of the generic `upstream_rate_limited` one. Never given the body.
   */
  onRateLimited?: (headers: Headers, retryAfterMs: number | undefined) => Promise<UpstreamError | undefined>;
  /**
   * Runs on a 408, 429 or 529 before it is waited out and sent again: an
   * error it returns ends the call at once (a refusal no wait mends, such as
   * an account out of credit).
   */
  refusedForGood?: (res: UpstreamResponse) => UpstreamError | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** The whole body, at most UPSTREAM_MAX_BODY_BYTES. */
  text: string;
  /** The body parsed as JSON; throws an `upstream_bad_response` UpstreamError when it is not JSON. */
  json(): unknown;
}

/** Refused before the upstream acted on it: safe to send again whatever the method. */
const REFUSED = new Set([408, 429, 529]);
/** Failures whose effect is unknown: sent again only when the request is idempotent. */
const FAILED = new Set([500, 502, 503, 504]);
/** Breakers kept at most (one per service and origin); closed ones are forgotten first. */
const MAX_BREAKERS = 1000;

/**
 * The one way connectors reach an upstream service. Node's fetch keeps a
 * keep-alive connection pool per origin; on top of it this adds, per
 * attempt, a time limit covering the body and a bound on the body's size;
 * bounded retries with backoff that honour the upstream's Retry-After; a
 * circuit breaker per service and origin (each organisation's Shopify shop is
 * a host of its own: one organisation's broken shop must not pause every
 * other's); no redirects followed (a redirect could carry
 * the credentials' headers to another host); and `upstream_requests_total`.
 * Any other answer (2xx, 3xx, 4xx) is returned for the connector to read.
 */
@Injectable()
export class UpstreamHttp {
  private readonly logger = new Logger(UpstreamHttp.name);
  private readonly options: ConnectorsConfig;
  /** By `${service} ${origin}`. */
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** The keys of the breakers that opened and have not closed since, for `upstream_circuit_open{service}`. */
  private readonly opened = new Set<string>();

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.options = config.connectors;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    // Built here so that a value fetch refuses (a line break in a stored key, say) is told as what it is,
    // before any attempt: it would otherwise read as a network error, be retried and count against the circuit.
    let headers: Headers;
    try {
      headers = new Headers(req.headers);
    } catch {
      throw UpstreamError.unsendableCredentials(req.service);
    }
    const key = `${req.service} ${req.url.origin}`;
    const breaker = this.breaker(key);
    for (let attempt = 0; ; attempt++) {
      const admitted = breaker.admit();
      if (!admitted.ok) throw UpstreamError.circuitOpen(req.service, admitted.retryAfterMs / 1000);
      // After the breaker: an attempt it refuses is never sent, so it spends none of a quota.
      if (req.beforeAttempt)
        try {
          await req.beforeAttempt();
        } catch (e) {
          breaker.release(); // a half-open trial that was not sent frees the trial for the next call
          throw e;
        }
      const lastAttempt = attempt >= this.options.maxRetries;

      let res: UpstreamResponse;
      try {
        res = await this.attempt(req, headers);
      } catch (e) {
        if (req.signal?.aborted) {
          breaker.release();
          throw cancelled();
        }
        const error = e instanceof UpstreamError ? e : UpstreamError.unreachable(req.service);
        if (error.code === 'upstream_response_too_large') breaker.success();
        else this.failed(breaker, req.service, key);
        if (error.code !== 'upstream_response_too_large' && idempotent && !lastAttempt) {
          await this.pause(req, backoffMs(attempt));
          continue;
        }
        throw error;
      }

      const status = res.status;
      if (!REFUSED.has(status) && !FAILED.has(status)) {
        this.succeeded(breaker, req.service, key);
        return res;
      }
      // A 429 is a sign of life; anything else here counts against the service.
      if (status === 429) this.succeeded(breaker, req.service, key);
      else this.failed(breaker, req.service, key);
      const final = REFUSED.has(status) ? req.refusedForGood?.(res) : undefined;
      if (final) throw final;
      const asked = retryAfterMs(res.headers);
      const wait = asked ?? backoffMs(attempt);
      const mayRetry = REFUSED.has(status) || idempotent;
      if (mayRetry && !lastAttempt && wait <= this.options.maxRetryWaitMs) {
        await this.pause(req, wait);
        continue;
      }
      const seconds = asked === undefined ? undefined : asked / 1000;
      if (status === 429)
        throw (
          (await req.onRateLimited?.(res.headers, asked)) ?? UpstreamError.rateLimited(req.service, seconds)
        );
      throw UpstreamError.unavailable(req.service, status, seconds);
    }
  }

  /**
   * Read-only, for the admin API: the state of this instance's breaker for
   * `service` at `origin` (as `URL.origin` spells it), without making one:
   * `closed` when no call has needed one yet.
   */
  circuitOf(service: UpstreamService, origin: string): { state: BreakerState; retryAfterMs: number } {
    const breaker = this.breakers.get(`${service} ${origin}`);
    return breaker
      ? { state: breaker.state, retryAfterMs: breaker.retryAfterMs }
      : { state: 'closed', retryAfterMs: 0 };
  }

  private async attempt(req: UpstreamRequest, headers: Headers): Promise<UpstreamResponse> {
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers,
        body: req.body,
        redirect: 'manual',
        signal,
      });
      this.metrics.upstreamRequest(req.service, res.status);
      const text = await readBounded(res, this.options.maxBodyBytes, req.service);
      return {
        status: res.status,
        headers: res.headers,
        text,
        json: () => {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw UpstreamError.badResponse(req.service, `HTTP ${res.status} with a body that is not JSON`);
          }
        },
      };
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      if (!req.signal?.aborted) this.metrics.upstreamRequest(req.service, 'error');
      if (timeout.aborted) throw UpstreamError.timeout(req.service, timeoutMs);
      throw e;
    }
  }

  /** Waits before a retry, giving up when the caller cancels. */
  private async pause(req: UpstreamRequest, ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: req.signal });
    } catch {
      throw cancelled();
    }
  }

  private breaker(key: string): CircuitBreaker {
    let breaker = this.breakers.get(key);
    if (!breaker) {
      if (this.breakers.size >= MAX_BREAKERS)
        for (const [k, b] of this.breakers)
          if (b.state === 'closed') {
            this.breakers.delete(k);
            break;
          }
      breaker = new CircuitBreaker(this.options.breakerFailures, this.options.breakerOpenMs);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  private failed(breaker: CircuitBreaker, service: UpstreamService, key: string): void {
    if (!breaker.failure()) return;
    this.opened.add(key);
    this.metrics.upstreamCircuit(service, true);
    this.logger.warn(
      `Circuit for ${SERVICE_NAMES[service]} opened after ${plural(this.options.breakerFailures, 'failure')} in a row; ` +
        `calls to it are refused for ${this.options.breakerOpenMs} ms`,
    );
  }

  private succeeded(breaker: CircuitBreaker, service: UpstreamService, key: string): void {
    if (!breaker.success()) return;
    this.opened.delete(key);
    const stillOpen = [...this.opened].some((k) => k.startsWith(`${service} `));
    this.metrics.upstreamCircuit(service, stillOpen);
    this.logger.log(`Circuit for ${SERVICE_NAMES[service]} closed: it answers again`);
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function cancelled(): ToolError {
  return new ToolError('The call was cancelled before the upstream service answered.', 'cancelled');
}

/** The body as UTF-8 text, refused (and the connection's stream cancelled) past `limit` bytes. */
async function readBounded(res: Response, limit: number, service: UpstreamService): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw UpstreamError.tooLarge(service, limit);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw UpstreamError.tooLarge(service, limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
