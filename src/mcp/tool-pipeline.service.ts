import { Injectable, Logger, Optional, ServiceUnavailableException } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { hasPermission } from '../auth/tokens/permissions';
import { describeFieldErrors, fieldErrors } from '../common/field-errors';
import { SHUTDOWN_RESERVE_MS, ShutdownClock } from '../common/shutdown-clock';
import type { Principal } from '../auth/principal';
import { RequestContext } from '../observability/request-context';
import type { McpCallContext } from './mcp-context';
import type { PermissionRequirement } from './mcp.decorators';
import { FRESH_ARGUMENT, RegisteredTool } from './mcp-registry.service';

/** Throw from a tool to answer with `isError: true` and this message (shown to the model). */
export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    message: string,
    /** A stable machine-readable code for audit and metrics (`upstream_rate_limited`, ...). */
    readonly code = 'tool_error',
  ) {
    super(message);
  }
}

export type ToolOutcome =
  'success' | 'denied' | 'invalid_arguments' | 'tool_error' | 'internal_error' | 'unknown_tool';

/** What a hook learns of each finished tool call. */
export interface ToolCallRecord {
  tool: string;
  principal?: Principal;
  requestId: string;
  outcome: ToolOutcome;
  errorCode?: string;
  durationMs: number;
  /** The validated arguments (undefined when they failed validation). */
  args?: unknown;
  rawArgs: unknown;
}

/**
 * Observers of the tool pipeline (metrics, audit). `afterCall` may return a
 * promise: the answer goes out only once every hook has settled, which is how
 * "answered means audited" is kept. A hook that throws turns the answer into an
 * error (fail closed), so a hook must only throw when the call must not succeed.
 */
export interface ToolCallHook {
  afterCall(record: ToolCallRecord): void | Promise<void>;
}

/**
 * Where a cached tool's answer came from: the cache (`hit`), an identical
 * call already under way (`joined`), the tool (`miss`, or `fresh` when the
 * caller skipped the cache), or the tool without caching it (`uncached`).
 */
export type ToolCacheResult = 'hit' | 'joined' | 'miss' | 'fresh' | 'uncached';

/**
 * Answers repeated calls of a tool declared with `cache` (read-only tools)
 * from a short-lived shared cache. The connectors provide it (they know what
 * an answer depends on: the organisation's stored credentials); without one,
 * cached tools simply run every time.
 */
export interface ToolResultCache {
  /**
   * The tool's answer to these arguments (already validated, `fresh` taken
   * off): a cached one unless `fresh`, else `load()`'s, kept for the next
   * call when it can be. Never fails a call the tool itself would answer.
   * `json`, when given, is exactly `JSON.stringify(value)` (what the cache
   * stored or read), so the pipeline does not serialise a large answer again.
   */
  through(
    tool: RegisteredTool,
    ctx: McpCallContext,
    args: Record<string, unknown>,
    fresh: boolean,
    load: () => Promise<unknown>,
  ): Promise<{ value: unknown; cache: ToolCacheResult; json?: string }>;
}

/**
 * The single place every tool call passes through, whichever protocol era or
 * session it came from: permission → argument validation → the tool →
 * result shaping → hooks (metrics, audit).
 */
@Injectable()
export class ToolPipeline {
  private readonly logger = new Logger(ToolPipeline.name);
  private readonly hooks: ToolCallHook[] = [];
  private resultCache?: ToolResultCache;

  constructor(@Optional() private readonly clock?: ShutdownClock) {}

  addHook(hook: ToolCallHook): void {
    this.hooks.push(hook);
  }

  useResultCache(cache: ToolResultCache): void {
    this.resultCache = cache;
  }

  /**
   * A call naming a tool that does not exist (`name` already shortened by
   * the caller): recorded by every hook like any other call (an audit row,
   * outcome `unknown_tool`; metrics count it under one label), so probing
   * for tools leaves a trail; the caller then answers the protocol error.
   */
  async refuseUnknown(name: string, ctx: McpCallContext, rawArgs: unknown): Promise<void> {
    const record: ToolCallRecord = {
      tool: name,
      principal: ctx.principal,
      requestId: ctx.requestId,
      outcome: 'unknown_tool',
      errorCode: 'unknown_tool',
      durationMs: 0,
      rawArgs,
    };
    this.logger.log({
      message: 'tool call of an unknown tool',
      event: 'tool_execution',
      tool: name,
      outcome: 'unknown_tool',
    });
    if (this.hooks.length > 0) await Promise.all(this.hooks.map((h) => h.afterCall(record)));
  }

  async call(tool: RegisteredTool, ctx: McpCallContext, rawArgs: unknown): Promise<CallToolResult> {
    // In the stop's last moments a tool's effect could outlive the process before its audit record
    // is written: it is not started, and the client retries elsewhere (503 with Retry-After).
    if (this.clock && this.clock.remainingMs() < SHUTDOWN_RESERVE_MS) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'shutting_down',
        message:
          'This instance is shutting down and did not run the call; retry it (another instance takes it)',
      });
    }
    const started = performance.now();
    const name = tool.options.name;
    let outcome: ToolOutcome = 'success';
    let errorCode: string | undefined;
    let args: unknown;
    let cache: ToolCacheResult | undefined;
    let result: CallToolResult;

    if (!mayAccess(tool.options.permission, ctx.principal)) {
      outcome = 'denied';
      errorCode = 'insufficient_permission';
      result = errorResult(
        `Permission denied: the tool "${name}" requires the permission "${tool.options.permission}", which this API key does not hold.`,
      );
    } else {
      const parsed = tool.input.safeParse(rawArgs ?? {});
      if (!parsed.success) {
        outcome = 'invalid_arguments';
        errorCode = 'invalid_arguments';
        result = errorResult(
          `Invalid arguments for tool "${name}": ${describeFieldErrors(
            fieldErrors(parsed.error, {
              root: '(arguments)',
              known: Object.keys(tool.input.shape),
              schema: tool.input,
            }),
          )}`,
        );
      } else {
        args = parsed.data;
        try {
          const ran = await this.run(tool, ctx, parsed.data);
          cache = ran.cache;
          result = toCallToolResult(ran.value, ran.json);
          if (result.isError) {
            outcome = 'tool_error';
            errorCode = 'tool_reported_error';
          }
        } catch (e) {
          if (e instanceof ToolError) {
            outcome = 'tool_error';
            errorCode = e.code;
            result = errorResult(e.message);
          } else {
            outcome = 'internal_error';
            errorCode = 'internal_error';
            this.logger.error(
              { message: `Tool ${name} (${tool.owner}) failed`, requestId: ctx.requestId, error: e },
              (e as Error)?.stack,
            );
            result = errorResult(
              `The tool "${name}" failed unexpectedly. Retrying may help; quote request id ${ctx.requestId} when reporting it.`,
            );
          }
        }
      }
    }

    const record: ToolCallRecord = {
      tool: name,
      principal: ctx.principal,
      requestId: ctx.requestId,
      outcome,
      errorCode,
      durationMs: performance.now() - started,
      args,
      rawArgs,
    };
    // One structured line per tool execution; request id and caller come from the request context.
    this.logger.log({
      message: `tool ${name} ${outcome}`,
      event: 'tool_execution',
      tool: name,
      outcome,
      errorCode,
      cache,
      durationMs: Math.round(record.durationMs * 100) / 100,
    });
    RequestContext.addServerTiming('tool', record.durationMs);
    if (this.hooks.length > 0) await Promise.all(this.hooks.map((h) => h.afterCall(record)));
    return result;
  }

  /** The tool's answer, through the result cache for a cached tool (which alone sees `fresh`). */
  private async run(
    tool: RegisteredTool,
    ctx: McpCallContext,
    validated: Record<string, unknown>,
  ): Promise<{ value: unknown; cache?: ToolCacheResult; json?: string }> {
    if (!tool.cached) return { value: await tool.handler(ctx, validated) };
    const { [FRESH_ARGUMENT]: fresh, ...args } = validated;
    const load = async () => tool.handler(ctx, args);
    if (!this.resultCache) return { value: await load(), cache: 'uncached' };
    return this.resultCache.through(tool, ctx, args, fresh === true, load);
  }
}

/**
 * Whether a caller may see and use something that needs `permission` (none needed: everyone). A list
 * needs every permission in it (a prompt or resource reading several systems); the registry refuses an
 * empty list, which would otherwise read as "none needed".
 */
export function mayAccess(
  permission: PermissionRequirement | undefined,
  principal: Principal | undefined,
): boolean {
  if (!permission) return true;
  if (principal === undefined) return false;
  if (typeof permission === 'string') return hasPermission(principal.permissions, permission);
  return permission.every((p) => hasPermission(principal.permissions, p));
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Tools may return a full CallToolResult, a string, or any JSON value (sent as text and structured
 * content). The text is compact JSON: MCP asks for the serialised structured content in a text block
 * (for clients that read only `content`), not for its layout, and indentation made a 1,000-item page's
 * text 30 % longer, for the server to serialise, the network to carry and a model to read as tokens.
 * `json` is the value's JSON when already made (`JSON.stringify(value)`, by the answer cache).
 */
function toCallToolResult(value: unknown, json?: string): CallToolResult {
  if (value && typeof value === 'object' && Array.isArray((value as CallToolResult).content)) {
    return value as CallToolResult;
  }
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  if (value === undefined) return { content: [] };
  const result: CallToolResult = { content: [{ type: 'text', text: json ?? JSON.stringify(value) }] };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    result.structuredContent = value as Record<string, unknown>;
  }
  return result;
}
