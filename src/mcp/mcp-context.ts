import type { LoggingLevel, ServerContext } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal';

/** What every tool, resource and prompt method receives first. */
export interface McpCallContext {
  /** The caller; undefined only where no authentication is configured for the route. */
  principal?: Principal;
  /** The HTTP request id (X-Request-Id), also on every log line of the call. */
  requestId: string;
  /** The 2025-era session of the request (checked to be the caller's); absent for 2026-07-28. */
  sessionId?: string;
  /** Aborted when the client cancels the request or disconnects. */
  signal: AbortSignal;
  /** The protocol era of the request: 'legacy' (2025-06-18 / 2025-11-25) or 'modern' (2026-07-28). */
  era: 'legacy' | 'modern';
  /** Sends a progress notification when the client asked for progress; otherwise a no-op. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Sends a log message notification to the client (respects logging/setLevel). */
  log(level: LoggingLevel, data: unknown): Promise<void>;
  /**
   * The SDK's raw request context, for the few tools that need server→client
   * requests (sampling, elicitation) or SSE control on the legacy era.
   */
  sdk: ServerContext;
}

/** The context of a tool call. */
export type ToolContext = McpCallContext;
