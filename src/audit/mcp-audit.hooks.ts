import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { findProvider } from '../common/find-provider';
import { ResourceReadHook, ResourceReadHooks, ResourceReadRecord } from '../mcp/resource-read-hooks';
import { ToolCallHook, ToolCallRecord, ToolPipeline } from '../mcp/tool-pipeline.service';
import { RequestContext } from '../observability/request-context';
import { actorColumns, AuditRecord } from './audit-record';
import { AuditWriter } from './audit.writer';

/**
 * The one place MCP calls are audited: a ToolPipeline hook for every tool
 * call (kind `tool_call`, the tool's name as the action) and a resource-read
 * hook for every resources/read (kind `resource_read`, the URI as the action:
 * a resource such as `sentia://connectors` reveals organisation data). Each
 * answer waits for its record's batch to be durable (sync mode), and
 * AuditUnavailableError from the writer fails the call (503), so none is
 * answered unaudited. With SERVER_TIMING on, a tool call's wait is reported
 * as the `audit` metric of the `Server-Timing` header. prompts/get is not
 * audited: a prompt's text is built from its arguments alone and reads
 * nothing; the tool calls it leads to are audited each.
 */
@Injectable()
export class McpAuditHooks implements ToolCallHook, ResourceReadHook, OnModuleInit {
  private readonly logger = new Logger(McpAuditHooks.name);

  constructor(
    private readonly writer: AuditWriter,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    // Looked up rather than imported, so AuditModule does not pull the MCP surface into the CLI.
    const pipeline = findProvider(this.moduleRef, ToolPipeline);
    const reads = findProvider(this.moduleRef, ResourceReadHooks);
    pipeline?.addHook(this);
    reads?.addHook(this);
    if (!pipeline || !reads)
      this.logger.debug('No MCP surface in this application; MCP calls are not audited here');
  }

  afterCall(record: ToolCallRecord): Promise<void> {
    const write = this.write(record, 'tool_call', record.tool, toolArgs(record));
    if (!RequestContext.reportsServerTiming()) return write;
    const queued = performance.now();
    return write.then(() => RequestContext.addServerTiming('audit', performance.now() - queued));
  }

  afterRead(record: ResourceReadRecord): Promise<void> {
    return this.write(record, 'resource_read', record.uri, { uri: record.uri });
  }

  private write(
    record: ToolCallRecord | ResourceReadRecord,
    kind: AuditRecord['kind'],
    action: string,
    args: unknown,
  ): Promise<void> {
    return this.writer.record({
      kind,
      action,
      outcome: record.outcome,
      status: null,
      errorCode: record.errorCode ?? null,
      durationMs: record.durationMs,
      ...actorColumns(record.principal),
      requestId: record.requestId,
      args,
    });
  }
}

/** What the digest covers: the validated arguments, else the raw ones, else `{}` (a call without arguments). */
export function toolArgs(record: Pick<ToolCallRecord, 'args' | 'rawArgs'>): unknown {
  return record.args ?? record.rawArgs ?? {};
}
