/**
 * The Anthropic and OpenAI simulators hold requests to what the real APIs
 * refuse and answer in the real shapes, so a connector that breaks a rule
 * fails its e2e spec rather than production. Each case here is a rule of the
 * real API (UPSTREAMS.md, "LLM providers", and the providers' own errors).
 */
import { AnthropicSimulator } from '../simulators/anthropic.simulator';

/** An answer as the tests read it: status, headers and the JSON body. */
type Answer = { status: number; headers: Headers; body: Record<string, unknown> };

const ANTHROPIC_KEY = 'sk-ant-unit-sim-0001';

describe('AnthropicSimulator', () => {
  const sim = new AnthropicSimulator({ apiKeys: [ANTHROPIC_KEY] });

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());

  async function messages(
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': ANTHROPIC_KEY,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }
  const ask = (msgs: unknown[]) => messages({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: msgs });
  const errorOf = (r: Answer) => (r.body.error as { message?: string } | undefined)?.message;

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
