import { z } from 'zod';
import type { Completion, CompletionRequest } from './ai.schemas';

/**
 * The OpenAI Chat Completions API (`POST {base}/chat/completions`, base with
 * /v1) as this connector speaks it. Pure, so the shapes are unit-tested.
 */
export function openAiRequestBody(req: CompletionRequest): Record<string, unknown> {
  const messages = req.messages.map((m) => ({ role: m.role, content: m.content }));
  return {
    model: req.model,
    messages: req.system !== undefined ? [{ role: 'system', content: req.system }, ...messages] : messages,
    // The current name: `max_tokens` is deprecated and refused by the reasoning models.
    max_completion_tokens: req.maxTokens,
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
  };
}

const tokens = z.number().int().nonnegative();

const OPENAI_COMPLETION = z.object({
  object: z.literal('chat.completion'),
  model: z.string().min(1).max(200),
  choices: z
    .array(
      z.looseObject({
        message: z.looseObject({
          // null when the model refused or only called tools.
          content: z.string().nullable(),
          refusal: z.string().nullable().optional(),
        }),
        finish_reason: z.string().max(100).nullable(),
      }),
    )
    .min(1),
  usage: z.looseObject({ prompt_tokens: tokens, completion_tokens: tokens }),
});

/**
 * The tool's result from the first choice (only one is asked for), or
 * undefined when `json` is not a chat.completion. A refusal (content null,
 * `refusal` set) is given as the text: it is what the model answered.
 */
export function openAiCompletion(json: unknown): Completion | undefined {
  const parsed = OPENAI_COMPLETION.safeParse(json);
  if (!parsed.success) return undefined;
  const c = parsed.data;
  const choice = c.choices[0];
  return {
    model: c.model,
    text: choice.message.content ?? choice.message.refusal ?? '',
    stopReason: choice.finish_reason,
    usage: { inputTokens: c.usage.prompt_tokens, outputTokens: c.usage.completion_tokens },
  };
}
