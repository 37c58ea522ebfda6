import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { boundedLabel, methodLabel, routeLabel, statusLabel } from './metric-labels';
import { MetricsSummary, summarize } from './metrics-summary';

/** Outcomes of a tool call, as the tool pipeline names them. */
export type ToolCallOutcome =
  'success' | 'denied' | 'invalid_arguments' | 'tool_error' | 'internal_error' | 'unknown_tool';
/** What a cache lookup found. */
export type CacheResult = 'hit' | 'miss' | 'stale' | 'error' | 'fresh' | 'joined';
/** Which cache: the decrypted credentials in each process, or the connectors' shared tool answers. */
export type CacheName = 'credentials' | 'tool_result';

/** Seconds: 5 ms to 30 s, for tool calls and HTTP requests alike. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every Prometheus metric of the application, in one Registry of its own
 * (never prom-client's global one, so several app instances in one process
 * do not collide). Other modules record through the typed methods below,
 * which keep label values bounded; the raw metric objects are public for
 * anything the methods do not cover.
 *
 *   constructor(private readonly metrics: MetricsService) {}
 *   this.metrics.authFailure('expired');
 *   this.metrics.upstreamRequest('xero', 429);
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly toolCallsTotal: Counter<'tool' | 'outcome'>;
  readonly toolDurationSeconds: Histogram<'tool'>;
  readonly httpRequestsTotal: Counter<'method' | 'route' | 'status'>;
  readonly httpRequestDurationSeconds: Histogram<'method' | 'route'>;
  readonly httpRequestsInFlight: Gauge;
  readonly authFailuresTotal: Counter<'reason'>;
  readonly rateLimitedTotal: Counter<'scope'>;
  readonly auditQueueDepth: Gauge;
  readonly auditSpooledTotal: Counter;
  readonly auditWriteFailuresTotal: Counter;
  readonly auditRetentionRunsTotal: Counter<'result'>;
  readonly auditPrunedTotal: Counter;
  readonly auditDurableSeconds: Histogram;
  readonly auditJournalPending: Gauge;
  readonly auditHedgedTotal: Counter;
  readonly mcpSessionsActive: Gauge;
  readonly authRevocationFresh: Gauge;
  readonly upstreamRequestsTotal: Counter<'service' | 'status'>;
  readonly upstreamCircuitOpen: Gauge<'service'>;
  readonly cacheRequestsTotal: Counter<'cache' | 'result'>;
  readonly upstreamLimitLocalCountsTotal: Counter<'service'>;

  private sessionsSource?: () => number;
  private auditQueueSource?: () => number;
  private auditJournalSource?: () => number;
  private revocationFreshSource?: () => boolean;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.toolCallsTotal = new Counter({
      name: 'mcp_tool_calls_total',
      help: 'MCP tool calls, by tool and outcome (success, denied, invalid_arguments, tool_error, internal_error).',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.toolDurationSeconds = new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'Duration of MCP tool calls through the tool pipeline (permission check, validation, the tool), without the wait for the audit record (audit_durable_seconds).',
      labelNames: ['tool'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.httpRequestsTotal = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status (unknown routes: route="unmatched").',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpRequestDurationSeconds = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to the end of its response, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.httpRequestsInFlight = new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered (open SSE streams included).',
      registers,
    });
    this.authFailuresTotal = new Counter({
      name: 'auth_failures_total',
      help: 'Requests refused by authentication, by reason (missing, malformed, invalid, expired, revoked, ...).',
      labelNames: ['reason'],
      registers,
    });
    this.rateLimitedTotal = new Counter({
      name: 'rate_limited_total',
      help: 'Requests refused with 429 by a rate limit, by scope (key, ip, ...).',
      labelNames: ['scope'],
      registers,
    });
    this.auditQueueDepth = new Gauge({
      name: 'audit_queue_depth',
      help: 'Audit records waiting to be written.',
      registers,
      collect: () => {
        const depth = this.auditQueueSource?.();
        if (depth !== undefined) this.auditQueueDepth.set(depth);
      },
    });
    this.auditSpooledTotal = new Counter({
      name: 'audit_spooled_total',
      help: 'Audit records written to the spool file because the database refused them.',
      registers,
    });
    this.auditJournalPending = new Gauge({
      name: 'audit_journal_pending',
      help:
        'Audit records durable in the local journal (AUDIT_DURABILITY=journal, or hedged: AUDIT_HEDGE_MS) and not yet shipped to the database; ' +
        'they are lost with the disk if the machine is.',
      registers,
      collect: () => this.auditJournalPending.set(this.auditJournalSource?.() ?? 0),
    });
    this.auditHedgedTotal = new Counter({
      name: 'audit_hedged_total',
      help:
        'Audit records also written to the local journal because their database write was slow (AUDIT_HEDGE_MS); ' +
        'their calls were answered from there.',
      registers,
    });
    this.auditWriteFailuresTotal = new Counter({
      name: 'audit_write_failures_total',
      help: 'Audit batch writes the database refused.',
      registers,
    });
    this.auditRetentionRunsTotal = new Counter({
      name: 'audit_retention_runs_total',
      help:
        'Passes of the audit retention (AUDIT_RETENTION_MONTHS), by result: pruned, nothing (nothing older), ' +
        'refused (the trail before the cutoff does not verify: look at it), busy (a long read held its locks; ' +
        'another instance pruning, or an export), error (it could not run).',
      labelNames: ['result'],
      registers,
    });
    this.auditPrunedTotal = new Counter({
      name: 'audit_pruned_total',
      help: 'Audit records removed by the audit retention (AUDIT_RETENTION_MONTHS).',
      registers,
    });
    this.auditDurableSeconds = new Histogram({
      name: 'audit_durable_seconds',
      help:
        'Time from an audit record being queued to its batch being durable (database or spool). ' +
        'With AUDIT_MODE=sync this is what each audited call waits before it is answered.',
      // Fine below 10 ms, where the commit of one batch lands; 0.005 is the p99 budget docs/design.md names.
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.authRevocationFresh = new Gauge({
      name: 'auth_revocation_fresh',
      help:
        '1 while the revoked-key set can be trusted (loaded from the database within 15 s, or Redis vouches for the time since); ' +
        '0 while this instance fails closed: every authenticated request gets 503.',
      registers,
      collect: () => {
        const fresh = this.revocationFreshSource?.();
        if (fresh !== undefined) this.authRevocationFresh.set(fresh ? 1 : 0);
      },
    });
    this.mcpSessionsActive = new Gauge({
      name: 'mcp_sessions_active',
      help: 'Live 2025-era MCP sessions on this instance.',
      registers,
      collect: () => {
        this.mcpSessionsActive.set(this.sessionsSource?.() ?? 0);
      },
    });
    this.upstreamRequestsTotal = new Counter({
      name: 'upstream_requests_total',
      help: 'Requests to upstream services, by service and HTTP status ("error" when no response came).',
      labelNames: ['service', 'status'],
      registers,
    });
    this.upstreamCircuitOpen = new Gauge({
      name: 'upstream_circuit_open',
      help: 'Whether this instance refuses calls to an upstream service after repeated failures (1), by service.',
      labelNames: ['service'],
      registers,
    });
    this.cacheRequestsTotal = new Counter({
      name: 'cache_requests_total',
      help: 'Cache lookups, by cache (credentials, tool_result) and result (hit, miss, joined: an identical call under way answered it, fresh: skipped on request).',
      labelNames: ['cache', 'result'],
      registers,
    });
    this.upstreamLimitLocalCountsTotal = new Counter({
      name: 'upstream_limit_local_counts_total',
      help: 'Upstream limits (quotas, calls at a time) counted on this instance because the shared store did not answer, by service.',
      labelNames: ['service'],
      registers,
    });
  }

  /** The exposition `Content-Type` of `metrics()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The JSON view of `GET /metrics` (Accept: application/json). */
  async summary(): Promise<MetricsSummary> {
    const [toolCalls, toolDurations, httpRequests, inFlight, authFailures, rateLimited, sessions] =
      await Promise.all([
        this.toolCallsTotal.get(),
        this.toolDurationSeconds.get(),
        this.httpRequestsTotal.get(),
        this.httpRequestsInFlight.get(),
        this.authFailuresTotal.get(),
        this.rateLimitedTotal.get(),
        this.mcpSessionsActive.get(),
      ]);
    return summarize({
      toolCalls,
      toolDurations,
      httpRequests,
      inFlight,
      authFailures,
      rateLimited,
      sessions,
    });
  }

  /** A finished tool call (the tool pipeline hook calls this). */
  toolCall(tool: string, outcome: ToolCallOutcome, durationSeconds: number): void {
    const label = boundedLabel(tool);
    this.toolCallsTotal.inc({ tool: label, outcome: boundedLabel(outcome) });
    this.toolDurationSeconds.observe({ tool: label }, Math.max(0, durationSeconds));
  }

  /** An answered HTTP request; `route` is `req.route` after routing (undefined: unmatched). */
  httpRequest(
    method: string,
    route: { path?: unknown } | undefined,
    status: number,
    durationSeconds: number,
  ): void {
    const m = methodLabel(method);
    const r = routeLabel(route);
    this.httpRequestsTotal.inc({ method: m, route: r, status: statusLabel(status) });
    this.httpRequestDurationSeconds.observe({ method: m, route: r }, Math.max(0, durationSeconds));
  }

  /** Authentication refused a request; `reason` is a short code such as `expired` or `revoked`. */
  authFailure(reason: string): void {
    this.authFailuresTotal.inc({ reason: boundedLabel(reason) });
  }

  /** A rate limit refused a request; `scope` names the limit (`key`, `ip`, ...). */
  rateLimited(scope: string): void {
    this.rateLimitedTotal.inc({ scope: boundedLabel(scope) });
  }

  /** Sets the audit queue depth now (or use `auditQueueDepthFrom` to have it read at each scrape). */
  setAuditQueueDepth(depth: number): void {
    this.auditQueueDepth.set(depth);
  }

  /** Reads the audit queue depth from `source` at each scrape. */
  auditQueueDepthFrom(source: () => number): void {
    this.auditQueueSource = source;
  }

  /** Reads the number of journaled, not yet shipped audit records from `source` at each scrape. */
  auditJournalPendingFrom(source: () => number): void {
    this.auditJournalSource = source;
  }

  /** A pass of the audit retention ended so; `records` it removed. */
  auditRetentionRun(result: 'pruned' | 'nothing' | 'refused' | 'busy' | 'error', records = 0): void {
    this.auditRetentionRunsTotal.inc({ result });
    if (records > 0) this.auditPrunedTotal.inc(records);
  }

  /** `records` audit records went to the spool file. */
  auditSpooled(records = 1): void {
    if (records > 0) this.auditSpooledTotal.inc(records);
  }

  /** `records` audit records were hedged to the local journal (a slow database write). */
  auditHedged(records = 1): void {
    if (records > 0) this.auditHedgedTotal.inc(records);
  }

  /** A batch became durable: one observation per record, `seconds` after it was queued. */
  auditDurable(seconds: readonly number[]): void {
    for (const s of seconds) this.auditDurableSeconds.observe(s);
  }

  /** The database refused `batches` audit batch writes. */
  auditWriteFailure(batches = 1): void {
    if (batches > 0) this.auditWriteFailuresTotal.inc(batches);
  }

  /** Reads whether the revoked-key set can be trusted from `source` at each scrape. */
  revocationFreshFrom(source: () => boolean): void {
    this.revocationFreshSource = source;
  }

  /** Reads the number of live MCP sessions from `source` at each scrape. */
  mcpSessionsFrom(source: () => number): void {
    this.sessionsSource = source;
  }

  /** A request to an upstream service answered with `status`, or `'error'` when none came (network, timeout). */
  upstreamRequest(service: string, status: number | 'error'): void {
    this.upstreamRequestsTotal.inc({
      service: boundedLabel(service),
      status: status === 'error' ? 'error' : statusLabel(status),
    });
  }

  /** An upstream service's circuit opened (true) or closed again (false) on this instance. */
  upstreamCircuit(service: string, open: boolean): void {
    this.upstreamCircuitOpen.set({ service: boundedLabel(service) }, open ? 1 : 0);
  }

  /** An upstream limit counted on this instance alone: the shared store did not answer. */
  upstreamLimitCountedLocally(service: string): void {
    this.upstreamLimitLocalCountsTotal.inc({ service: boundedLabel(service) });
  }

  /** A cache lookup and what it found. */
  cacheRequest(result: CacheResult, cache: CacheName): void {
    this.cacheRequestsTotal.inc({ cache, result: boundedLabel(result) });
  }
}
