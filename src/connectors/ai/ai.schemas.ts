import { z } from 'zod';

/**
 * The arguments both AI tools take and the result both give, provider
 * neutral: each client maps them to its API (anthropic.mapping.ts,
 * openai.mapping.ts).
 */
export const MAX_MESSAGES = 50;
export const MAX_MESSAGE_CHARS = 100_000;
export const MAX_SYSTEM_CHARS = 20_000;
export const MAX_OUTPUT_TOKENS = 8192;
export const DEFAULT_MAX_TOKENS = 1024;

/** Model ids as both providers name them: `claude-sonnet-4-5`, `gpt-4o-mini`, `ft:gpt-4o-mini:acme::abc123`. */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

const model = (example: string) =>
  z
    .string()
    .min(1)
    .max(100)
    .regex(MODEL_ID, 'must be a model id of letters, digits, ".", "_", ":" and "-"')
    .describe(`The model id, e.g. "${example}".`);

const messages = z
  .array(
    // Strict like the arguments themselves (the registry makes only the top level strict): a member a
    // message does not have (`name`, `cache_control`) is refused by name, not silently dropped.
    z.strictObject({
      role: z.enum(['user', 'assistant']).describe('"user" or "assistant".'),
      content: z
        .string()
        .min(1, 'must not be empty')
        .max(MAX_MESSAGE_CHARS)
        .describe(`The message text, up to ${MAX_MESSAGE_CHARS.toLocaleString('en')} characters.`),
    }),
  )
  .min(1)
  .max(MAX_MESSAGES)
  .describe(
    `The conversation so far, oldest first, 1-${MAX_MESSAGES} messages; normally it ends with a "user" message.`,
  );

const system = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_SYSTEM_CHARS)
  .optional()
  .describe(
    `Optional system prompt (instructions for the model), up to ${MAX_SYSTEM_CHARS.toLocaleString('en')} characters.`,
  );

const maxTokens = z
  .number()
  .int()
  .min(1)
  .max(MAX_OUTPUT_TOKENS)
  .default(DEFAULT_MAX_TOKENS)
  .describe(`The most tokens the reply may have, 1-${MAX_OUTPUT_TOKENS} (default ${DEFAULT_MAX_TOKENS}).`);

const temperature = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .optional()
    .describe(
      `Sampling temperature, 0-${max} (lower is more deterministic); the provider's default when absent.`,
    );

/**
 * Anthropic refuses (400) text that is only whitespace, and a final
 * assistant message (a prefill the reply continues) ending in whitespace;
 * refused here with the message's place, before any upstream call.
 */
const anthropicMessages = messages.superRefine((list, ctx) => {
  list.forEach((m, i) => {
    if (m.content.trim() === '')
      ctx.addIssue({
        code: 'custom',
        path: [i, 'content'],
        message: 'must hold text other than whitespace (Anthropic refuses whitespace-only text)',
      });
    else if (i === list.length - 1 && m.role === 'assistant' && m.content.trimEnd() !== m.content)
      ctx.addIssue({
        code: 'custom',
        path: [i, 'content'],
        message:
          'must not end with whitespace in a final assistant message (Anthropic refuses such a prefill)',
      });
  });
});

export const ANTHROPIC_MESSAGE_INPUT = z.object({
  model: model('claude-sonnet-4-5'),
  messages: anthropicMessages,
  system,
  maxTokens,
  temperature: temperature(1),
});

export const OPENAI_CHAT_INPUT = z.object({
  model: model('gpt-4o-mini'),
  messages,
  system,
  maxTokens,
  temperature: temperature(2),
});

/** What either client is asked to complete (after validation and defaults). */
export type CompletionRequest = z.output<typeof ANTHROPIC_MESSAGE_INPUT>;

/** What either tool answers. */
export interface Completion {
  /** The model that answered, as the provider names it (OpenAI answers with a dated snapshot). */
  model: string;
  /** The reply's text. */
  text: string;
  /** Why generation stopped, in the provider's words; null when the provider gave none. */
  stopReason: string | null;
  usage: { inputTokens: number; outputTokens: number };
}
