import TransportStream from 'winston-transport';
import {
  bulkEndpoint,
  bulkItem,
  BulkEndpoint,
  DEFAULT_INDEX_PREFIX,
  documentFor,
  failureReason,
  indexName,
  readBulkResponse,
} from './elasticsearch-bulk';
import { redactString } from './redact';

export interface ElasticsearchTransportOptions extends TransportStream.TransportStreamOptions {
  /** Base URL of the cluster (config.log.elasticsearchUrl); `user:pass@` becomes Basic auth. */
  url: string;
  /** Daily indices `<prefix>-YYYY.MM.DD` (UTC). Default `sentia-mcp-logs`. */
  indexPrefix?: string;
  /** How often buffered lines are sent. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Lines per `_bulk` request; a full batch is sent at once. Default 500. */
  batchSize?: number;
  /** Lines held while Elasticsearch is slow or down; newer lines are dropped beyond it. Default 10 000. */
  maxBufferedLines?: number;
  /** Attempts per batch before it is dropped. Default 5. */
  maxAttempts?: number;
  /** Backoff after a failure: base * 2^(failures-1), capped, plus up to 20% jitter. Defaults 500 ms / 30 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Per request. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Where the transport's own warnings go (never through the logger). Default: a JSON line on stderr. */
  warn?: (message: string) => void;
}

export interface ElasticsearchTransportStats {
  /** Lines Elasticsearch accepted. */
  shipped: number;
  /** Lines given up on: buffer full, attempts exhausted, request refused (4xx), or logged after close. */
  dropped: number;
  /** Lines Elasticsearch refused one by one (mapping conflicts). */
  rejected: number;
  /** Lines waiting, including the batch being sent. */
  buffered: number;
  /** True from the first failed request until one succeeds. */
  failing: boolean;
}

interface Batch {
  items: string[];
  attempts: number;
}

const NO_BACKOFF = 0;

function stderrWarning(message: string): void {
  const line = {
    timestamp: new Date().toISOString(),
    level: 'warn',
    context: 'ElasticsearchTransport',
    message,
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/**
 * Ships log lines to Elasticsearch with batched `_bulk` requests. It never
 * blocks or throws into the logger: lines are queued (bounded), sent in the
 * background with retries and exponential backoff, and dropped with a counter
 * when Elasticsearch stays unavailable; one warning goes to stderr when an
 * outage starts and one when it ends (with the number of lines lost).
 *
 * It relies on the logger's format for redaction and serialisation: each
 * document is the same JSON line stdout receives (see createLoggerOptions).
 */
export class ElasticsearchTransport extends TransportStream {
  readonly name = 'elasticsearch';
  private readonly endpoint: BulkEndpoint;
  private readonly indexPrefix: string;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly warn: (message: string) => void;
  private readonly timer: NodeJS.Timeout;

  private queue: string[] = [];
  private batch: Batch | null = null;
  private inFlight: Promise<boolean> | null = null;
  private retryAt = NO_BACKOFF;
  private consecutiveFailures = 0;
  private failing = false;
  private overflowWarned = false;
  private rejectWarned = false;
  /** Lines dropped since the last warning that counted them. */
  private droppedUnreported = 0;
  private stopped = false;
  private readonly counts = { shipped: 0, dropped: 0, rejected: 0 };

  constructor(options: ElasticsearchTransportOptions) {
    super(options);
    this.endpoint = bulkEndpoint(options.url);
    this.indexPrefix = options.indexPrefix ?? DEFAULT_INDEX_PREFIX;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.maxBuffered = Math.max(1, options.maxBufferedLines ?? 10_000);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.warn = options.warn ?? stderrWarning;
    this.timer = setInterval(() => void this.pump(false), options.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    setImmediate(() => this.emit('logged', info));
    try {
      this.enqueue(info);
    } catch {
      this.drop(1);
    }
    callback();
  }

  stats(): ElasticsearchTransportStats {
    const buffered = this.queue.length + (this.batch?.items.length ?? 0);
    return { ...this.counts, buffered, failing: this.failing };
  }

  /**
   * Sends everything buffered now, ignoring backoff, until the buffer is empty,
   * a request fails, or `timeoutMs` passes. Never rejects. For shutdown.
   */
  async flush(timeoutMs = 3_000): Promise<ElasticsearchTransportStats> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.batch) && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), Math.max(0, deadline - Date.now()));
        timer.unref();
      });
      const sent = await Promise.race([this.pump(true), expired]);
      clearTimeout(timer);
      if (sent !== true) break;
    }
    return this.stats();
  }

  /** Stops the timer and makes a last bounded attempt; later lines are dropped. Called by winston on remove/clear. */
  override close(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    void this.flush();
  }

  private enqueue(info: Record<string | symbol, unknown>): void {
    if (this.stopped || this.queue.length >= this.maxBuffered) return this.drop(1);
    const { document, at } = documentFor(info);
    this.queue.push(bulkItem(indexName(this.indexPrefix, at), document));
    if (this.queue.length >= this.batchSize) void this.pump(false);
  }

  /** Starts sending the current batch (or the next one) unless a request is in flight or backoff applies. */
  private pump(ignoreBackoff: boolean): Promise<boolean> {
    if (this.inFlight) return this.inFlight;
    if (!ignoreBackoff && Date.now() < this.retryAt) return Promise.resolve(false);
    if (!this.batch) {
      if (this.queue.length === 0) return Promise.resolve(true);
      this.batch = { items: this.queue.splice(0, this.batchSize), attempts: 0 };
    }
    const inFlight = this.send(this.batch)
      .catch(() => false) // send handles its failures; this only guards against a bug becoming an unhandled rejection
      .finally(() => {
        this.inFlight = null;
      });
    this.inFlight = inFlight;
    return inFlight;
  }

  private async send(batch: Batch): Promise<boolean> {
    batch.attempts++;
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.endpoint.url, {
        method: 'POST',
        headers: this.endpoint.headers,
        body: batch.items.join(''),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      body = await response.text();
    } catch (error) {
      return this.failed(batch, failureReason(error), true);
    }
    if (!response.ok) {
      const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
      return this.failed(batch, `HTTP ${response.status}`, retryable);
    }

    const outcome = readBulkResponse(body, batch.items.length);
    this.counts.shipped += batch.items.length - outcome.retry.length - outcome.rejected;
    this.recovered();
    if (outcome.rejected > 0) {
      this.counts.rejected += outcome.rejected;
      if (!this.rejectWarned) {
        this.rejectWarned = true;
        this.report(
          `Elasticsearch refused ${outcome.rejected} log line(s) (${outcome.rejectReason}); they are not retried`,
        );
      }
    } else {
      this.rejectWarned = false;
    }
    if (outcome.retry.length === 0) {
      this.batch = null;
      return true;
    }
    const again = { items: outcome.retry.map((position) => batch.items[position]), attempts: batch.attempts };
    if (again.attempts >= this.maxAttempts) {
      this.batch = null;
      this.drop(again.items.length);
    } else {
      this.batch = again;
      this.retryAt = Date.now() + this.backoff(1);
    }
    return true;
  }

  private failed(batch: Batch, reason: string, retryable: boolean): false {
    this.consecutiveFailures++;
    this.retryAt = Date.now() + this.backoff(this.consecutiveFailures);
    if (!this.failing) {
      this.failing = true;
      this.report(
        `Elasticsearch log shipping to ${this.endpoint.display} is failing (${reason}); ` +
          `holding up to ${this.maxBuffered} lines, dropping beyond; logs still go to the other outputs`,
      );
    }
    if (!retryable || batch.attempts >= this.maxAttempts) {
      this.batch = null;
      this.drop(batch.items.length);
    }
    return false;
  }

  /** After any 2xx: ends an outage, or reports lines the full buffer dropped meanwhile (once per overload). */
  private recovered(): void {
    this.consecutiveFailures = 0;
    this.retryAt = NO_BACKOFF;
    const dropped = this.droppedUnreported;
    this.droppedUnreported = 0;
    if (this.failing) {
      this.failing = false;
      this.overflowWarned = false;
      this.report(
        `Elasticsearch log shipping to ${this.endpoint.display} recovered; ${dropped} line(s) dropped during the outage`,
      );
    } else if (dropped === 0) {
      this.overflowWarned = false;
    } else if (!this.overflowWarned) {
      this.overflowWarned = true;
      this.report(
        `Elasticsearch log buffer full (${this.maxBuffered} lines): ${dropped} line(s) dropped; ` +
          `Elasticsearch is not keeping up with the log rate`,
      );
    }
  }

  /** Counted here, reported by the next outage or recovery warning. */
  private drop(lines: number): void {
    this.counts.dropped += lines;
    this.droppedUnreported += lines;
  }

  private backoff(failures: number): number {
    const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(failures - 1, 20));
    return delay * (1 + Math.random() * 0.2);
  }

  private report(message: string): void {
    try {
      this.warn(redactString(message));
    } catch {
      // A broken warning sink must not take the logger down.
    }
  }
}
