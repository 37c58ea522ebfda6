import { z } from 'zod';
import type { Completion, CompletionRequest } from './ai.schemas';

/**
 * The Anthropic Messages API (`POST /v1/messages`) as this connector speaks
 * it: the request body built from the tool's arguments, and the answer
 * checked and mapped to the tool's result. Pure, so the shapes are unit-tested.
 */
export const ANTHROPIC_VERSION = '2023-06-01';

export function anthropicRequestBody(req: CompletionRequest): Record<string, unknown> {
  return {
    model: req.model,
    max_tokens: req.maxTokens,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    ...(req.system !== undefined ? { system: req.system } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
}

const tokens = z.number().int().nonnegative();

/**
 * The documented answer; unknown fields are allowed (the API adds some), and
 * content blocks other than text (thinking, tool_use) are allowed and skipped.
 */
const ANTHROPIC_MESSAGE = z.object({
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string().min(1).max(200),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
  stop_reason: z.string().max(100).nullable(),
  usage: z.looseObject({ input_tokens: tokens, output_tokens: tokens }),
});

/** The tool's result, or undefined when `json` is not a Messages API message. */
export function anthropicCompletion(json: unknown): Completion | undefined {
  const parsed = ANTHROPIC_MESSAGE.safeParse(json);
  if (!parsed.success) return undefined;
  const m = parsed.data;
  return {
    model: m.model,
    text: m.content
      .filter((b) => b.type === 'text' && typeof b.text === 'string')
      .map((b) => b.text)
      .join(''),
    stopReason: m.stop_reason,
    usage: { inputTokens: m.usage.input_tokens, outputTokens: m.usage.output_tokens },
  };
}
