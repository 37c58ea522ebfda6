import { ANTHROPIC_MESSAGE_INPUT, OPENAI_CHAT_INPUT } from './ai.schemas';

const valid = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello' }] };
const issues = (schema: typeof ANTHROPIC_MESSAGE_INPUT, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join('.')))];
};

describe('AI tool arguments', () => {
  it('defaults maxTokens to 1024 and leaves system and temperature absent', () => {
    expect(ANTHROPIC_MESSAGE_INPUT.parse(valid)).toEqual({ ...valid, maxTokens: 1024 });
  });

  it('takes model ids as the providers name them, and nothing else', () => {
    for (const model of [
      'claude-sonnet-4-5',
      'claude-3-5-haiku-20241022',
      'gpt-4o-mini',
      'gpt-4.1',
      'ft:gpt-4o-mini:acme::abc123',
    ])
      expect(issues(OPENAI_CHAT_INPUT, { ...valid, model })).toEqual([]);
    for (const model of ['', ' gpt-4o', 'gpt 4o', '../v1/files', 'a/b', '-x', 'm'.repeat(101)])
      expect(issues(OPENAI_CHAT_INPUT, { ...valid, model })).toEqual(['model']);
  });

  it('bounds messages: 1-50, user or assistant, non-empty content up to 100,000 characters', () => {
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, messages: [] })).toEqual(['messages']);
    const fifty = Array.from({ length: 50 }, () => ({ role: 'user', content: 'x' }));
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, messages: fifty })).toEqual([]);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, messages: [...fifty, fifty[0]] })).toEqual([
      'messages',
    ]);
    expect(
      issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, messages: [{ role: 'system', content: 'x' }] }),
    ).toEqual(['messages.0.role']);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, messages: [{ role: 'user', content: '' }] })).toEqual([
      'messages.0.content',
    ]);
    const big = (n: number) => ({ ...valid, messages: [{ role: 'user', content: 'x'.repeat(n) }] });
    expect(issues(ANTHROPIC_MESSAGE_INPUT, big(100_000))).toEqual([]);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, big(100_001))).toEqual(['messages.0.content']);
  });

  it('refuses for Anthropic what Anthropic refuses: whitespace-only text, a final assistant message ending in whitespace', () => {
    const conversation = (...contents: Array<[string, string]>) => ({
      ...valid,
      messages: contents.map(([role, content]) => ({ role, content })),
    });
    const blank = conversation(['user', 'Hi'], ['assistant', ' \n\t'], ['user', 'Go on']);
    expect(ANTHROPIC_MESSAGE_INPUT.safeParse(blank).error?.issues).toEqual([
      expect.objectContaining({
        path: ['messages', 1, 'content'],
        message: 'must hold text other than whitespace (Anthropic refuses whitespace-only text)',
      }),
    ]);
    const prefill = conversation(['user', 'List three'], ['assistant', '1. ']);
    expect(ANTHROPIC_MESSAGE_INPUT.safeParse(prefill).error?.issues).toEqual([
      expect.objectContaining({
        path: ['messages', 1, 'content'],
        message:
          'must not end with whitespace in a final assistant message (Anthropic refuses such a prefill)',
      }),
    ]);
    // Whitespace around text is fine elsewhere: in a user message, and in an assistant message not last.
    expect(issues(ANTHROPIC_MESSAGE_INPUT, conversation(['user', ' Hi \n']))).toEqual([]);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, conversation(['user', 'Hi'], ['assistant', '1.']))).toEqual([]);
    expect(
      issues(ANTHROPIC_MESSAGE_INPUT, conversation(['user', 'Hi'], ['assistant', 'Yes. '], ['user', 'More'])),
    ).toEqual([]);
    // OpenAI takes both.
    expect(issues(OPENAI_CHAT_INPUT, blank)).toEqual([]);
    expect(issues(OPENAI_CHAT_INPUT, prefill)).toEqual([]);
  });

  it('refuses a member a message does not have, naming it, rather than dropping it', () => {
    const extra = {
      ...valid,
      messages: [{ role: 'user', content: 'Hello', name: 'ada', cache_control: {} }],
    };
    const r = ANTHROPIC_MESSAGE_INPUT.safeParse(extra);
    expect(r.error?.issues).toEqual([
      expect.objectContaining({
        code: 'unrecognized_keys',
        keys: ['name', 'cache_control'],
        path: ['messages', 0],
      }),
    ]);
    expect(issues(OPENAI_CHAT_INPUT, extra)).toEqual(['messages.0']);
  });

  it('bounds system to 20,000 characters and maxTokens to 1-8192 integers', () => {
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, system: 's'.repeat(20_000) })).toEqual([]);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, system: 's'.repeat(20_001) })).toEqual(['system']);
    // Absent is the way to have none: an empty system prompt is refused, as an empty message is.
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, system: '' })).toEqual(['system']);
    expect(issues(OPENAI_CHAT_INPUT, { ...valid, system: '' })).toEqual(['system']);
    for (const maxTokens of [1, 8192])
      expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, maxTokens })).toEqual([]);
    for (const maxTokens of [0, 8193, 1.5, '10'])
      expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, maxTokens })).toEqual(['maxTokens']);
  });

  it('takes temperature 0-1 for Anthropic and 0-2 for OpenAI', () => {
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, temperature: 1 })).toEqual([]);
    expect(issues(ANTHROPIC_MESSAGE_INPUT, { ...valid, temperature: 1.5 })).toEqual(['temperature']);
    expect(issues(OPENAI_CHAT_INPUT, { ...valid, temperature: 2 })).toEqual([]);
    expect(issues(OPENAI_CHAT_INPUT, { ...valid, temperature: 2.1 })).toEqual(['temperature']);
    expect(issues(OPENAI_CHAT_INPUT, { ...valid, temperature: -0.1 })).toEqual(['temperature']);
  });
});
