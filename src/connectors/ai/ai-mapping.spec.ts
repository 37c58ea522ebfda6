import { completionTimeoutMs } from './ai-completion';
import type { CompletionRequest } from './ai.schemas';
import { anthropicCompletion, anthropicRequestBody } from './anthropic.mapping';
import { openAiCompletion, openAiRequestBody } from './openai.mapping';

const request = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  model: 'm-1',
  messages: [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: 'Sum 2+2' },
  ],
  maxTokens: 256,
  ...over,
});

describe('Anthropic Messages mapping', () => {
  it('builds the body with snake_case fields, system at the top level, optional fields only when given', () => {
    expect(anthropicRequestBody(request())).toEqual({
      model: 'm-1',
      max_tokens: 256,
      messages: request().messages,
    });
    expect(anthropicRequestBody(request({ system: 'Be brief', temperature: 0 }))).toEqual({
      model: 'm-1',
      max_tokens: 256,
      messages: request().messages,
      system: 'Be brief',
      temperature: 0,
    });
  });

  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [
      { type: 'thinking', thinking: '...', signature: 'x' },
      { type: 'text', text: 'Four' },
      { type: 'text', text: '.' },
    ],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 0 },
  };

  it('maps a message: text blocks joined, other blocks skipped, usage renamed', () => {
    expect(anthropicCompletion(message)).toEqual({
      model: 'claude-sonnet-4-5-20250929',
      text: 'Four.',
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 3 },
    });
    expect(anthropicCompletion({ ...message, stop_reason: null })?.stopReason).toBeNull();
  });

  it('refuses what is not a message', () => {
    for (const bad of [
      null,
      'text',
      { ...message, type: 'error' },
      { ...message, content: 'Four' },
      { ...message, usage: { input_tokens: -1, output_tokens: 3 } },
      { ...message, model: undefined },
      { ...message, model: '' },
      { ...message, model: 'm'.repeat(201) },
      { ...message, role: 'user' },
      { ...message, stop_reason: 'x'.repeat(101) },
      { ...message, usage: { input_tokens: 1.5, output_tokens: 3 } },
      { ...message, usage: { input_tokens: 12, output_tokens: -3 } },
    ])
      expect(anthropicCompletion(bad)).toBeUndefined();
    // The bounds themselves are taken.
    expect(anthropicCompletion({ ...message, model: 'm'.repeat(200) })?.model).toBe('m'.repeat(200));
    expect(anthropicCompletion({ ...message, stop_reason: 'x'.repeat(100) })?.stopReason).toBe(
      'x'.repeat(100),
    );
  });

  it('takes only text blocks as the text, whatever else carries a text field', () => {
    const content = [
      { type: 'text', text: 'Four' },
      { type: 'server_tool_use', id: 'x', name: 'web_search', text: 'internal' },
      { type: 'text', text: '.' },
    ];
    expect(anthropicCompletion({ ...message, content })?.text).toBe('Four.');
    expect(anthropicCompletion({ ...message, content: [] })?.text).toBe('');
  });
});

describe('OpenAI Chat Completions mapping', () => {
  it('puts the system prompt first as a system message and asks with max_completion_tokens', () => {
    expect(openAiRequestBody(request())).toEqual({
      model: 'm-1',
      messages: request().messages,
      max_completion_tokens: 256,
    });
    expect(openAiRequestBody(request({ system: 'Be brief', temperature: 1.5 }))).toEqual({
      model: 'm-1',
      messages: [{ role: 'system', content: 'Be brief' }, ...request().messages],
      max_completion_tokens: 256,
      temperature: 1.5,
    });
    // 0 is a temperature (the most deterministic), not an absent one.
    expect(openAiRequestBody(request({ temperature: 0 }))).toEqual({
      model: 'm-1',
      messages: request().messages,
      max_completion_tokens: 256,
      temperature: 0,
    });
  });

  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Four.', refusal: null }, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 },
  };

  it('maps the first choice and the usage', () => {
    expect(openAiCompletion(completion)).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      text: 'Four.',
      stopReason: 'stop',
      usage: { inputTokens: 20, outputTokens: 2 },
    });
    const unfinished = { ...completion.choices[0], finish_reason: null };
    expect(openAiCompletion({ ...completion, choices: [unfinished] })?.stopReason).toBeNull();
  });

  it('gives a refusal as the text, and an empty text when there is neither', () => {
    const refused = { role: 'assistant', content: null, refusal: 'I cannot help with that.' };
    expect(
      openAiCompletion({ ...completion, choices: [{ ...completion.choices[0], message: refused }] })?.text,
    ).toBe('I cannot help with that.');
    const empty = { role: 'assistant', content: null };
    expect(
      openAiCompletion({ ...completion, choices: [{ ...completion.choices[0], message: empty }] })?.text,
    ).toBe('');
  });

  it('refuses what is not a chat.completion', () => {
    for (const bad of [
      undefined,
      { ...completion, object: 'chat.completion.chunk' },
      { ...completion, choices: [] },
      { ...completion, usage: undefined },
      { ...completion, choices: [{ index: 0, message: { content: 3 }, finish_reason: 'stop' }] },
      { ...completion, choices: [{ ...completion.choices[0], finish_reason: 'x'.repeat(101) }] },
      { ...completion, model: '' },
      { ...completion, model: 'm'.repeat(201) },
      { ...completion, usage: { prompt_tokens: -1, completion_tokens: 2 } },
      { ...completion, usage: { prompt_tokens: 20, completion_tokens: 2.5 } },
    ])
      expect(openAiCompletion(bad)).toBeUndefined();
    expect(openAiCompletion({ ...completion, model: 'm'.repeat(200) })?.model).toBe('m'.repeat(200));
  });
});

describe('completionTimeoutMs', () => {
  it('adds generation time per output token to the configured limit', () => {
    expect(completionTimeoutMs(30_000, 1)).toBe(30_020);
    expect(completionTimeoutMs(30_000, 8192)).toBe(30_000 + 8192 * 20);
  });
});
