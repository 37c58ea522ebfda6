import { Injectable } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ToolContext } from '../mcp/mcp-context';
import { Tool } from '../mcp/mcp.decorators';
import { ToolError } from '../mcp/tool-pipeline.service';
import { sleep, TEST_PNG_BASE64, TEST_WAV_BASE64 } from './conformance-media';

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/**
 * `$defs.address`, `$ref` and `additionalProperties: false` in the listed
 * input schema, as the json-schema-2020-12 scenario (SEP-1613) expects. The
 * id lives in zod's global registry, so this schema is built once per process.
 */
const ADDRESS = z
  .object({ street: z.string().optional(), city: z.string().optional() })
  .meta({ id: 'address' });
const JSON_SCHEMA_2020_12_INPUT = z.strictObject({
  name: z.string().optional(),
  address: ADDRESS.optional(),
});

/**
 * The conformance suite's plain tool fixtures: content types, errors,
 * logging, progress and schema preservation. Loaded only by
 * ConformanceFixturesModule (MCP_CONFORMANCE_FIXTURES=true, never in production).
 */
@Injectable()
export class ConformanceToolFixtures {
  @Tool({ name: 'test_simple_text', description: 'Tests simple text content response' })
  simpleText(): CallToolResult {
    return text('This is a simple text response for testing.');
  }

  @Tool({ name: 'test_image_content', description: 'Tests image content response' })
  imageContent(): CallToolResult {
    return { content: [{ type: 'image', data: TEST_PNG_BASE64, mimeType: 'image/png' }] };
  }

  @Tool({ name: 'test_audio_content', description: 'Tests audio content response' })
  audioContent(): CallToolResult {
    return { content: [{ type: 'audio', data: TEST_WAV_BASE64, mimeType: 'audio/wav' }] };
  }

  @Tool({ name: 'test_embedded_resource', description: 'Tests embedded resource content response' })
  embeddedResource(): CallToolResult {
    return {
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    };
  }

  @Tool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
  })
  multipleContentTypes(): CallToolResult {
    return {
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: TEST_PNG_BASE64, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    };
  }

  @Tool({
    name: 'test_tool_with_logging',
    description: 'Tests tool that emits log messages during execution',
  })
  async withLogging(ctx: ToolContext): Promise<CallToolResult> {
    await ctx.log('info', 'Tool execution started');
    await sleep(50);
    await ctx.log('info', 'Tool processing data');
    await sleep(50);
    await ctx.log('info', 'Tool execution completed');
    return text('Tool with logging executed successfully');
  }

  @Tool({ name: 'test_tool_with_progress', description: 'Tests tool that reports progress notifications' })
  async withProgress(ctx: ToolContext): Promise<CallToolResult> {
    for (const step of [0, 50, 100]) {
      if (step > 0) await sleep(50);
      await ctx.progress(step, 100, `Completed step ${step} of 100`);
    }
    return text(String(ctx.sdk.mcpReq._meta?.progressToken ?? 'no progress token'));
  }

  @Tool({ name: 'test_error_handling', description: 'Tests error response handling' })
  errorHandling(): never {
    throw new ToolError('This tool intentionally returns an error for testing', 'conformance_test_error');
  }

  @Tool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)',
    input: JSON_SCHEMA_2020_12_INPUT,
  })
  jsonSchema202012(_ctx: ToolContext, args: z.infer<typeof JSON_SCHEMA_2020_12_INPUT>): CallToolResult {
    return text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`);
  }
}
