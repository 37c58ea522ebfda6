import { Injectable } from '@nestjs/common';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { ANTHROPIC_MESSAGE_INPUT, Completion, CompletionRequest, OPENAI_CHAT_INPUT } from './ai.schemas';
import { AnthropicClient } from './anthropic.client';
import { OpenAiClient } from './openai.client';

const RESULT =
  'Returns { model, text, stopReason, usage: { inputTokens, outputTokens } }: the model that answered, ' +
  'the reply text, why generation stopped';
/** No effect on the caller's business systems, but each call is billed and its answer varies. */
const ANNOTATIONS = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
};

/**
 * The AI tools: one completion from Anthropic or OpenAI with the key stored
 * for the caller's organisation (PUT /credentials/anthropic or /openai).
 */
@Injectable()
export class AiTools {
  constructor(
    private readonly anthropic: AnthropicClient,
    private readonly openai: OpenAiClient,
  ) {}

  @Tool({
    name: 'ai_anthropic_message',
    title: 'Anthropic: create a message',
    description:
      'Sends a conversation to an Anthropic Claude model (Messages API) and returns its reply. ' +
      'Arguments: model (e.g. "claude-sonnet-4-5"), messages [{ role: "user" | "assistant", content }], ' +
      'optional system prompt, maxTokens (default 1024), temperature 0-1. ' +
      `${RESULT} ("end_turn", or "max_tokens" when the reply was cut at maxTokens) and the tokens billed.`,
    input: ANTHROPIC_MESSAGE_INPUT,
    permission: 'ai:invoke',
    annotations: ANNOTATIONS,
  })
  anthropicMessage(ctx: ToolContext, args: CompletionRequest): Promise<Completion> {
    return this.anthropic.createMessage(ctx, args);
  }

  @Tool({
    name: 'ai_openai_chat',
    title: 'OpenAI: create a chat completion',
    description:
      'Sends a conversation to an OpenAI model (Chat Completions API) and returns its reply. ' +
      'Arguments: model (e.g. "gpt-4o-mini"), messages [{ role: "user" | "assistant", content }], ' +
      'optional system prompt, maxTokens (default 1024), temperature 0-2. ' +
      `${RESULT} ("stop", or "length" when the reply was cut at maxTokens; a refusal comes as the text) ` +
      'and the tokens billed.',
    input: OPENAI_CHAT_INPUT,
    permission: 'ai:invoke',
    annotations: ANNOTATIONS,
  })
  openaiChat(ctx: ToolContext, args: CompletionRequest): Promise<Completion> {
    return this.openai.createChatCompletion(ctx, args);
  }
}
