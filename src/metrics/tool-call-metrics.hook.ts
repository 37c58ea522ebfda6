import { Injectable, OnModuleInit } from '@nestjs/common';
import { LegacySessions } from '../mcp/legacy-sessions.service';
import { ToolCallHook, ToolCallRecord, ToolPipeline } from '../mcp/tool-pipeline.service';
import { MetricsService } from './metrics.service';

/**
 * Connects the MCP module to the metrics: counts every tool call by outcome
 * and observes its duration (a ToolPipeline hook), and reads the number of
 * live sessions at each scrape.
 */
@Injectable()
export class ToolCallMetricsHook implements ToolCallHook, OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly pipeline: ToolPipeline,
    private readonly sessions: LegacySessions,
  ) {}

  onModuleInit(): void {
    this.pipeline.addHook(this);
    this.metrics.mcpSessionsFrom(() => this.sessions.size);
  }

  /** Never throws: a throwing hook would turn the tool's answer into an error. */
  afterCall(record: ToolCallRecord): void {
    try {
      // An unknown tool's name is the caller's to choose: one label for all of them, or any client
      // could add series to /metrics without end.
      const tool = record.outcome === 'unknown_tool' ? 'unknown' : record.tool;
      this.metrics.toolCall(tool, record.outcome, record.durationMs / 1000);
    } catch {
      // A metric must never fail a tool call.
    }
  }
}
