import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { findProvider } from '../common/find-provider';
import { ResourceReadHook, ResourceReadHooks, ResourceReadRecord } from '../mcp/resource-read-hooks';
import { actorColumns } from './audit-record';
import { AuditWriter } from './audit.writer';

/**
 * Audits every MCP resources/read (kind `resource_read`, the URI as the
 * action), as ToolCallAuditHook does tool calls: a resource such as
 * `sentia://connectors` reveals organisation data, so its read is answered
 * only once its record is durable (sync mode), and refused (503) when the
 * record cannot be written. prompts/get is not audited: a prompt's text is
 * built from its arguments alone and reads nothing; the tool calls it leads
 * to are audited each.
 */
@Injectable()
export class ResourceReadAuditHook implements ResourceReadHook, OnModuleInit {
  private readonly logger = new Logger(ResourceReadAuditHook.name);

  constructor(
    private readonly writer: AuditWriter,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    // Looked up rather than imported, as for the tool pipeline: the CLI has no MCP surface.
    const hooks = findProvider(this.moduleRef, ResourceReadHooks);
    if (hooks) hooks.addHook(this);
    else this.logger.debug('No MCP surface in this application; resource reads are not audited here');
  }

  afterRead(record: ResourceReadRecord): Promise<void> {
    return this.writer.record({
      kind: 'resource_read',
      action: record.uri,
      outcome: record.outcome,
      status: null,
      errorCode: record.errorCode ?? null,
      durationMs: record.durationMs,
      ...actorColumns(record.principal),
      requestId: record.requestId,
      args: { uri: record.uri },
    });
  }
}
