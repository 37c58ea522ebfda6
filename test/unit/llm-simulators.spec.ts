/**
 * The Anthropic and OpenAI simulators hold requests to what the real APIs
 * refuse and answer in the real shapes, so a connector that breaks a rule
 * fails its e2e spec rather than production. Each case here is a rule of the
 * real API (UPSTREAMS.md, "LLM providers", and the providers' own errors).
 */
import { AnthropicSimulator } from '../simulators/anthropic.simulator';
import { OpenAiSimulator } from '../simulators/openai.simulator';

/** An answer as the tests read it: status, headers and the JSON body. */
type Answer = { status: number; headers: Headers; body: Record<string, unknown> };

const ANTHROPIC_KEY = 'sk-ant-unit-sim-0001';
const OPENAI_KEY = 'sk-proj-unit-sim-0002';

describe('AnthropicSimulator', () => {
  const sim = new AnthropicSimulator({ apiKeys: [ANTHROPIC_KEY] });

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());

  /** POST /v1/messages with the usual headers, `headers` over them (undefined leaves one out). */
  async function messages(
    body: Record<string, unknown>,
    headers: Record<string, string | undefined> = {},
  ): Promise<Answer> {
    const all: Record<string, string | undefined> = {
      'x-api-key': ANTHROPIC_KEY,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      ...headers,
    };
    const sent = Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined);
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: Object.fromEntries(sent),
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }
  const ask = (msgs: unknown[]) => messages({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: msgs });
  const errorOf = (r: Answer) => (r.body.error as { message?: string } | undefined)?.message;

  it('refuses a missing anthropic-version or max_tokens, and a system message inside messages', async () => {
    const noVersion = await messages(
      { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] },
      { 'anthropic-version': undefined },
    );
    expect(noVersion.status).toBe(400);
    expect(errorOf(noVersion)).toBe('anthropic-version: header is required');
    const noMax = await messages({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] });
    expect(noMax.status).toBe(400);
    expect(errorOf(noMax)).toBe('max_tokens: Field required');
    const system = await ask([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(system.status).toBe(400);
    expect(errorOf(system)).toBe("messages.0.role: Input should be 'user' or 'assistant'");
  });

  it('takes two user messages in a row: the real API joins consecutive turns of one role', async () => {
    const r = await ask([
      { role: 'user', content: 'Hi' },
      { role: 'user', content: 'Anyone there?' },
    ]);
    expect(r.status).toBe(200);
  });

  it('takes a conversation that ends with a prefill, and one that starts with the assistant', async () => {
    const prefill = await ask([
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: 'The colour is' },
    ]);
    expect(prefill.status).toBe(200);
    expect(
      (
        await ask([
          { role: 'assistant', content: 'Hi.' },
          { role: 'user', content: 'Hello' },
        ])
      ).status,
    ).toBe(200);
    // An empty final assistant message is allowed too.
    const empty = await ask([
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: '' },
    ]);
    expect(empty.status).toBe(200);
  });

  it('refuses a message member other than role and content', async () => {
    const r = await ask([{ role: 'user', content: 'Hi', name: 'ada' }]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(errorOf(r)).toBe('messages.0.name: Extra inputs are not permitted');
  });

  it('refuses empty content except in a final assistant message', async () => {
    const r = await ask([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '' },
      { role: 'user', content: 'Again' },
    ]);
    expect(r.status).toBe(400);
    expect(errorOf(r)).toBe(
      'messages.1: all messages must have non-empty content except for the optional final assistant message',
    );
    const block = await ask([{ role: 'user', content: [{ type: 'text', text: '' }] }]);
    expect(block.status).toBe(400);
    expect(errorOf(block)).toBe('messages: text content blocks must be non-empty');
  });

  it('refuses text that is whitespace alone, but not whitespace beside other text', async () => {
    const r = await ask([{ role: 'user', content: ' \n\t' }]);
    expect(r.status).toBe(400);
    expect(errorOf(r)).toBe('messages: text content blocks must contain non-whitespace text');
    const mixed = await ask([
      {
        role: 'user',
        content: [
          { type: 'text', text: ' ' },
          { type: 'text', text: 'real text' },
        ],
      },
    ]);
    expect(mixed.status).toBe(200);
  });

  it('refuses a final assistant message that ends in whitespace; an earlier one may', async () => {
    const r = await ask([
      { role: 'user', content: 'Say: ' },
      { role: 'assistant', content: 'Say: ' },
    ]);
    expect(r.status).toBe(400);
    expect(errorOf(r)).toBe('messages: final assistant content cannot end with trailing whitespace');
    const earlier = await ask([
      { role: 'user', content: 'Hi ' },
      { role: 'assistant', content: 'Hello ' },
      { role: 'user', content: 'Bye' },
    ]);
    expect(earlier.status).toBe(200);
  });

  it("refuses max_tokens above the model's output limit", async () => {
    const over = await messages({
      model: 'claude-opus-4-1',
      max_tokens: 32_001,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(over.status).toBe(400);
    expect(errorOf(over)).toBe(
      'max_tokens: 32001 > 32000, which is the maximum allowed number of output tokens for claude-opus-4-1',
    );
    const most = await messages({
      model: 'claude-opus-4-1',
      max_tokens: 32_000,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(most.status).toBe(200);
  });

  it('answers errors with the request id in the body as well as the header', async () => {
    const r = await messages({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
      request_id: expect.stringMatching(/^req_/),
    });
    expect(r.headers.get('request-id')).toBe(r.body.request_id);
    sim.failNext(529);
    const overloaded = await ask([{ role: 'user', content: 'Hi' }]);
    expect(overloaded.status).toBe(529);
    expect(overloaded.body).toMatchObject({
      error: { type: 'overloaded_error' },
      request_id: expect.any(String),
    });
  });
});

describe('OpenAiSimulator', () => {
  const sim = new OpenAiSimulator({ apiKeys: [OPENAI_KEY] });

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());

  async function chat(body: Record<string, unknown>): Promise<Answer> {
    const res = await fetch(`${sim.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }
  const hi = [{ role: 'user', content: 'Hi' }];

  it('refuses a missing model, a role the API does not have, and an unknown model (404 model_not_found)', async () => {
    const noModel = await chat({ messages: hi });
    expect(noModel.status).toBe(400);
    expect(noModel.body).toMatchObject({ error: { message: 'you must provide a model parameter' } });
    const role = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'model', content: 'Hi' }] });
    expect(role.status).toBe(400);
    expect(role.body).toMatchObject({ error: { type: 'invalid_request_error', param: 'messages[0].role' } });
    const unknown = await chat({ model: 'gpt-nope', messages: hi });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: {
        message: 'The model `gpt-nope` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
  });

  it("refuses a completion limit above the model's output limit, naming the parameter sent", async () => {
    const over = await chat({ model: 'gpt-4o-mini', messages: hi, max_completion_tokens: 16_385 });
    expect(over.status).toBe(400);
    expect(over.body).toEqual({
      error: {
        message:
          'max_completion_tokens is too large: 16385. This model supports at most 16384 completion tokens, whereas you provided 16385.',
        type: 'invalid_request_error',
        param: 'max_completion_tokens',
        code: 'invalid_value',
      },
    });
    const legacy = await chat({ model: 'gpt-4o', messages: hi, max_tokens: 20_000 });
    expect(legacy.status).toBe(400);
    expect(legacy.body).toMatchObject({ error: { param: 'max_tokens', code: 'invalid_value' } });
    expect((await chat({ model: 'gpt-4.1', messages: hi, max_completion_tokens: 20_000 })).status).toBe(200);
  });

  it('sends the rate-limit headers on a completion, and on a 429 with no requests left', async () => {
    const ok = await chat({ model: 'gpt-4o-mini', messages: hi });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit-requests')).toMatch(/^\d+$/);
    expect(Number(ok.headers.get('x-ratelimit-remaining-requests'))).toBeGreaterThan(0);
    sim.failNext(429, { retryAfter: 7 });
    const limited = await chat({ model: 'gpt-4o-mini', messages: hi });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(limited.headers.get('x-ratelimit-reset-requests')).toBe('7s');
    expect(limited.headers.get('x-ratelimit-limit-requests')).toBe(
      ok.headers.get('x-ratelimit-limit-requests'),
    );
  });
});
