import { Logger } from '@nestjs/common';
import { z } from 'zod';
import type { LegacySessions } from '../mcp/legacy-sessions.service';
import type { McpCallContext } from '../mcp/mcp-context';
import type { RegisteredTool } from '../mcp/mcp-registry.service';
import { ToolError, ToolPipeline } from '../mcp/tool-pipeline.service';
import { MetricsService } from './metrics.service';
import { ToolCallMetricsHook } from './tool-call-metrics.hook';

const ctx = { requestId: 'req-1', signal: new AbortController().signal, era: 'legacy' } as McpCallContext;

function tool(name: string, handler: () => unknown): RegisteredTool {
  const input = z.object({ n: z.number().optional() });
  return {
    options: { name, description: 'x', input },
    input,
    inputJsonSchema: {},
    handler,
    owner: 'T.m',
    cached: false,
  };
}

async function valueOf(metrics: MetricsService, series: string): Promise<number> {
  const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('ToolCallMetricsHook (with the real ToolPipeline)', () => {
  let metrics: MetricsService;
  let pipeline: ToolPipeline;
  const sessions = { size: 0 };

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    metrics = new MetricsService();
    pipeline = new ToolPipeline();
    new ToolCallMetricsHook(metrics, pipeline, sessions as LegacySessions).onModuleInit();
  });

  it('counts every tool call by outcome and observes its duration', async () => {
    await pipeline.call(
      tool('ok_tool', () => 'fine'),
      ctx,
      {},
    );
    await pipeline.call(
      tool('ok_tool', () => 'fine'),
      ctx,
      {},
    );
    await pipeline.call(
      tool('ok_tool', () => 'fine'),
      ctx,
      { n: 'not a number' },
    );
    await pipeline.call(
      tool('bad_tool', () => {
        throw new ToolError('upstream said no', 'upstream_rate_limited');
      }),
      ctx,
      {},
    );
    await pipeline.call(
      tool('bad_tool', () => {
        throw new Error('bug');
      }),
      ctx,
      {},
    );

    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="ok_tool",outcome="success"}')).toBe(2);
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="ok_tool",outcome="invalid_arguments"}')).toBe(
      1,
    );
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="bad_tool",outcome="tool_error"}')).toBe(1);
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="bad_tool",outcome="internal_error"}')).toBe(1);
    expect(await valueOf(metrics, 'mcp_tool_duration_seconds_count{tool="ok_tool"}')).toBe(3);
    expect(await valueOf(metrics, 'mcp_tool_duration_seconds_count{tool="bad_tool"}')).toBe(2);
  });

  it('counts every unknown tool under one label, whatever name the caller chose, and durations in seconds', async () => {
    const hook = new ToolCallMetricsHook(metrics, new ToolPipeline(), sessions as LegacySessions);
    for (const name of ['no_such_tool_1', 'no_such_tool_2'])
      hook.afterCall({ tool: name, requestId: 'r', outcome: 'unknown_tool', durationMs: 1_500, rawArgs: {} });
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="unknown",outcome="unknown_tool"}')).toBe(2);
    expect((await metrics.metrics()).includes('no_such_tool')).toBe(false);
    expect(await valueOf(metrics, 'mcp_tool_duration_seconds_sum{tool="unknown"}')).toBe(3);
  });

  it('never fails a tool call, even when recording throws', async () => {
    jest.spyOn(metrics.toolCallsTotal, 'inc').mockImplementation(() => {
      throw new Error('metrics broken');
    });
    const result = await pipeline.call(
      tool('ok_tool', () => 'fine'),
      ctx,
      {},
    );
    expect(result).toEqual({ content: [{ type: 'text', text: 'fine' }] });
  });

  it('reports the live session count at each scrape', async () => {
    sessions.size = 4;
    expect(await valueOf(metrics, 'mcp_sessions_active')).toBe(4);
    sessions.size = 0;
    expect(await valueOf(metrics, 'mcp_sessions_active')).toBe(0);
  });
});
