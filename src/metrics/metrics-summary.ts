/** What prom-client's `metric.get()` returns, as far as the summary reads it. */
type Labels = Partial<Record<string, string | number>>;
interface Values {
  values: Array<{ labels: Labels; value: number; metricName?: string }>;
}

export interface ToolExecutionStats {
  total: number;
  success: number;
  /** Calls with any other outcome (denied, invalid_arguments, tool_error, internal_error). */
  errors: number;
  byOutcome: Record<string, number>;
  averageDurationMs: number;
}

/**
 * The JSON view of `GET /metrics` (Accept: application/json), after the
 * seed's: a quick human-readable look; Prometheus scrapes the text format.
 * Counts are since this process started.
 */
export interface MetricsSummary {
  /** Seconds since the process started. */
  uptime: number;
  /** Bytes, from process.memoryUsage(). */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /** CPU time this process used, in seconds. */
  cpu: { userSeconds: number; systemSeconds: number };
  /** HTTP requests being served right now (open MCP SSE streams included). */
  activeConnections: number;
  /** Live 2025-era MCP sessions on this instance. */
  mcpSessions: number;
  toolExecutions: { total: number; byTool: Record<string, ToolExecutionStats> };
  requests: { http: number; authFailures: number; rateLimited: number };
  /** Fractions between 0 and 1 (0 while nothing was counted). */
  errorRates: {
    /** Tool calls whose outcome was not success. */
    toolCalls: number;
    /** HTTP responses with a 4xx status. */
    httpClientErrors: number;
    /** HTTP responses with a 5xx status. */
    httpServerErrors: number;
    /** HTTP requests refused by authentication. */
    authFailures: number;
  };
}

export interface SummaryInput {
  toolCalls: Values;
  toolDurations: Values;
  httpRequests: Values;
  inFlight: Values;
  authFailures: Values;
  rateLimited: Values;
  sessions: Values;
}

const sum = (m: Values, keep: (labels: Labels) => boolean = () => true): number =>
  m.values.filter((v) => keep(v.labels)).reduce((acc, v) => acc + v.value, 0);
const ratio = (part: number, whole: number): number => (whole > 0 ? part / whole : 0);

/** Builds the JSON view from the current values of the metrics. */
export function summarize(input: SummaryInput): MetricsSummary {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();

  const byTool: Record<string, ToolExecutionStats> = {};
  for (const { labels, value } of input.toolCalls.values) {
    const tool = String(labels.tool);
    const outcome = String(labels.outcome);
    const stats = (byTool[tool] ??= { total: 0, success: 0, errors: 0, byOutcome: {}, averageDurationMs: 0 });
    stats.total += value;
    stats.byOutcome[outcome] = (stats.byOutcome[outcome] ?? 0) + value;
    if (outcome === 'success') stats.success += value;
    else stats.errors += value;
  }
  for (const tool of Object.keys(byTool)) {
    const of = (suffix: string) =>
      input.toolDurations.values.find((v) => v.metricName?.endsWith(suffix) && v.labels.tool === tool)
        ?.value ?? 0;
    byTool[tool].averageDurationMs = ratio(of('_sum') * 1000, of('_count'));
  }
  const toolTotal = sum(input.toolCalls);
  const toolErrors = sum(input.toolCalls, (l) => l.outcome !== 'success');

  const http = sum(input.httpRequests);
  const status = (l: Labels) => Number(l.status);
  const authFailures = sum(input.authFailures);

  return {
    uptime: process.uptime(),
    memory: {
      rss: memory.rss,
      heapTotal: memory.heapTotal,
      heapUsed: memory.heapUsed,
      external: memory.external,
    },
    cpu: { userSeconds: cpu.user / 1e6, systemSeconds: cpu.system / 1e6 },
    activeConnections: sum(input.inFlight),
    mcpSessions: sum(input.sessions),
    toolExecutions: { total: toolTotal, byTool },
    requests: { http, authFailures, rateLimited: sum(input.rateLimited) },
    errorRates: {
      toolCalls: ratio(toolErrors, toolTotal),
      httpClientErrors: ratio(
        sum(input.httpRequests, (l) => status(l) >= 400 && status(l) < 500),
        http,
      ),
      httpServerErrors: ratio(
        sum(input.httpRequests, (l) => status(l) >= 500),
        http,
      ),
      authFailures: ratio(authFailures, http),
    },
  };
}
