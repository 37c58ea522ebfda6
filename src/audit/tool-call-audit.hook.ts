import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { findProvider } from '../common/find-provider';
import { ToolCallHook, ToolCallRecord, ToolPipeline } from '../mcp/tool-pipeline.service';
import { RequestContext } from '../observability/request-context';
import { actorColumns } from './audit-record';
import { AuditWriter } from './audit.writer';

/**
 * The one place tool calls are audited: a ToolPipeline hook. The answer of
 * every tool call waits for its record's batch to be durable (sync mode);
 * AuditUnavailableError from the writer fails the call (503), so no tool
 * call is answered unaudited. With SERVER_TIMING on, that wait is reported
 * to the caller as the `audit` metric of the `Server-Timing` header.
 */
@Injectable()
export class ToolCallAuditHook implements ToolCallHook, OnModuleInit {
  private readonly logger = new Logger(ToolCallAuditHook.name);

  constructor(
    private readonly writer: AuditWriter,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    // Looked up rather than imported so AuditModule does not pull the MCP surface into the CLI.
    const pipeline = findProvider(this.moduleRef, ToolPipeline);
    if (pipeline) pipeline.addHook(this);
    else this.logger.debug('No MCP tool pipeline in this application; tool calls are not audited here');
  }

  afterCall(record: ToolCallRecord): Promise<void> {
    if (!RequestContext.reportsServerTiming()) return this.write(record);
    const queued = performance.now();
    return this.write(record).then(() => RequestContext.addServerTiming('audit', performance.now() - queued));
  }

  private write(record: ToolCallRecord): Promise<void> {
    return this.writer.record({
      kind: 'tool_call',
      action: record.tool,
      outcome: record.outcome,
      status: null,
      errorCode: record.errorCode ?? null,
      durationMs: record.durationMs,
      ...actorColumns(record.principal),
      requestId: record.requestId,
      args: toolArgs(record),
    });
  }
}

/** What the digest covers: the validated arguments, else the raw ones, else `{}` (a call without arguments). */
export function toolArgs(record: Pick<ToolCallRecord, 'args' | 'rawArgs'>): unknown {
  return record.args ?? record.rawArgs ?? {};
}
