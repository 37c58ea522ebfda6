import { Injectable } from '@nestjs/common';
import type { CallToolResult, ElicitRequestFormParams } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ToolContext } from '../mcp/mcp-context';
import { Tool } from '../mcp/mcp.decorators';
import { ToolError } from '../mcp/tool-pipeline.service';
import { sleep } from './conformance-media';

type RequestedSchema = ElicitRequestFormParams['requestedSchema'];

/** SEP-1034: a default for every primitive type. */
const DEFAULTS_SCHEMA: RequestedSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: {
      type: 'string',
      description: 'User status',
      enum: ['active', 'inactive', 'pending'],
      default: 'active',
    },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  },
  required: [],
};

/** SEP-1330: the five enum shapes (untitled/titled single, legacy enumNames, untitled/titled multi). */
const ENUMS_SCHEMA: RequestedSchema = {
  type: 'object',
  properties: {
    untitledSingle: {
      type: 'string',
      description: 'Select one option',
      enum: ['option1', 'option2', 'option3'],
    },
    titledSingle: {
      type: 'string',
      description: 'Select one option with titles',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: {
      type: 'string',
      description: 'Select one option (legacy)',
      enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array',
      description: 'Select multiple options',
      minItems: 1,
      maxItems: 3,
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array',
      description: 'Select multiple options with titles',
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
  required: [],
};

/**
 * Sends a server→client request (sampling, elicitation) on the tool call's own
 * response stream. Without `relatedRequestId` the SDK's session transport
 * sends it on the session's GET stream instead, and while that stream is not
 * open yet (a client opens it beside its first POST, in no fixed order) the
 * request is only written to the event store: the client never sees it and
 * the call hangs until the request times out.
 */
const onThisCall = (ctx: ToolContext) => ({ relatedRequestId: ctx.sdk.mcpReq.id });

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/**
 * Conformance fixtures that need the client or the transport during the
 * call: sampling, elicitation (2025-era server→client requests) and SSE
 * stream closing with resumption (SEP-1699).
 */
@Injectable()
export class ConformanceClientRequestToolFixtures {
  @Tool({
    name: 'test_sampling',
    description: 'Tests server-initiated sampling (LLM completion request)',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
  })
  async sampling(ctx: ToolContext, args: { prompt: string }): Promise<CallToolResult> {
    const result = await this.clientRequest('Sampling', () =>
      ctx.sdk.mcpReq.requestSampling(
        {
          messages: [{ role: 'user', content: { type: 'text', text: args.prompt } }],
          maxTokens: 100,
        },
        onThisCall(ctx),
      ),
    );
    const content = Array.isArray(result.content) ? result.content[0] : result.content;
    return text(`LLM response: ${content?.type === 'text' ? content.text : 'No response'}`);
  }

  @Tool({
    name: 'test_elicitation',
    description: 'Tests server-initiated elicitation (user input request)',
    input: z.object({ message: z.string().describe('The message to show the user') }),
  })
  async elicitation(ctx: ToolContext, args: { message: string }): Promise<CallToolResult> {
    return this.elicit(ctx, 'User response', args.message, {
      type: 'object',
      properties: { response: { type: 'string', description: "User's response" } },
      required: ['response'],
    });
  }

  @Tool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Tests elicitation with default values per SEP-1034',
  })
  async elicitationDefaults(ctx: ToolContext): Promise<CallToolResult> {
    return this.elicit(
      ctx,
      'Elicitation completed',
      'Please review and update the form fields with defaults',
      DEFAULTS_SCHEMA,
    );
  }

  @Tool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Tests elicitation with enum schema improvements per SEP-1330',
  })
  async elicitationEnums(ctx: ToolContext): Promise<CallToolResult> {
    return this.elicit(
      ctx,
      'Elicitation completed',
      'Please select options from the enum fields',
      ENUMS_SCHEMA,
    );
  }

  @Tool({
    name: 'test_reconnection',
    description:
      'Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes the stream ' +
      'mid-call and sends the result after the client reconnects with Last-Event-ID.',
    // Not the suite's: how long the result takes after the stream closed (this project's cluster test).
    input: z.object({ delayMs: z.number().int().min(0).max(10_000).optional() }),
  })
  async reconnection(ctx: ToolContext, args: { delayMs?: number }): Promise<CallToolResult> {
    // Only a 2025-era session with an event store can close the stream; elsewhere the result comes inline.
    ctx.sdk.http?.closeSSE?.();
    await sleep(args.delayMs ?? 100);
    return text(
      'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.',
    );
  }

  private async elicit(ctx: ToolContext, label: string, message: string, requestedSchema: RequestedSchema) {
    const result = await this.clientRequest('Elicitation', () =>
      ctx.sdk.mcpReq.elicitInput({ mode: 'form', message, requestedSchema }, onThisCall(ctx)),
    );
    return text(`${label}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
  }

  /** A client that cannot answer (no capability, modern era) gets a tool error, not a protocol error. */
  private async clientRequest<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      throw new ToolError(
        `${what} not supported or failed: ${(e as Error).message}`,
        'client_request_failed',
      );
    }
  }
}
