/**
 * The AI connector on the whole app, against the Anthropic and OpenAI
 * simulators (test/simulators/): what is sent upstream (the stored key, never
 * the caller's token; headers; body mapping), the result mapping, and every
 * failure a model must be told how to act on.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AnthropicSimulator } from '../simulators/anthropic.simulator';
import { OpenAiSimulator } from '../simulators/openai.simulator';
import type { RecordedRequest } from '../simulators/llm-simulator-base';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';

const ANTHROPIC_KEY = 'sk-ant-api03-E2E-stored-0001';
const OPENAI_KEY = 'sk-proj-E2E-stored-openai-0002';
const WRONG_ANTHROPIC = 'sk-ant-api03-E2E-revoked-0003';
const WRONG_OPENAI = 'sk-proj-E2E-revoked-openai-0004';
for (const s of [ANTHROPIC_KEY, OPENAI_KEY, WRONG_ANTHROPIC, WRONG_OPENAI])
  registerSecret(s, 'connector-ai key');

type Result = { isError?: boolean; text: string; structured?: Record<string, unknown> };
const CONVERSATION = [
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'Four.' },
  { role: 'user', content: 'And 3+3?' },
];

describe('AI connector (e2e, simulated Anthropic and OpenAI)', () => {
  const anthropic = new AnthropicSimulator({ apiKeys: [ANTHROPIC_KEY] });
  const openai = new OpenAiSimulator({ apiKeys: [OPENAI_KEY] });
  let started: StartedApp;
  const clients: Client[] = [];
  let invoker: TestKey;
  let invokerClient: Client;
  const results: string[] = [];
  const tokens: string[] = [];

  async function connect(key: TestKey): Promise<Client> {
    tokens.push(key.token);
    const client = new Client({ name: 'e2e-ai', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
        requestInit: { headers: authHeaders(key) },
      }),
    );
    clients.push(client);
    return client;
  }

  async function call(name: string, args: Record<string, unknown>, client = invokerClient): Promise<Result> {
    const r = await client.callTool({ name, arguments: args });
    results.push(JSON.stringify(r));
    const content = r.content as { type: string; text?: string }[];
    return {
      isError: r.isError as boolean | undefined,
      text: content.map((c) => c.text ?? '').join(''),
      structured: r.structuredContent as Record<string, unknown> | undefined,
    };
  }

  async function store(orgAdmin: TestKey, service: string, apiKey: string): Promise<void> {
    const res = await fetch(`${started.url}/credentials/${service}`, {
      method: 'PUT',
      headers: { ...authHeaders(orgAdmin), 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey }),
    });
    expect(res.status).toBe(201);
  }

  const claude = (over: Record<string, unknown> = {}) =>
    call('ai_anthropic_message', { model: 'claude-sonnet-4-5', messages: CONVERSATION, ...over });
  const gpt = (over: Record<string, unknown> = {}) =>
    call('ai_openai_chat', { model: 'gpt-4o-mini', messages: CONVERSATION, ...over });
  /** The whole request as sent, for looking for a value anywhere in it. */
  const wire = (r: RecordedRequest) => JSON.stringify(r.headers) + r.raw;

  beforeAll(async () => {
    await anthropic.start();
    await openai.start();
    started = await startApp({
      ANTHROPIC_BASE_URL: anthropic.url,
      OPENAI_BASE_URL: openai.url,
      // Each test's 5xx must not open the circuit for the next test.
      UPSTREAM_BREAKER_FAILURES: '100',
    });
    const admin = await TestKey.create(started, {
      permissions: ['credentials:write'],
      organizationId: 'org-ai',
    });
    const badAdmin = await TestKey.create(started, {
      permissions: ['credentials:write'],
      organizationId: 'org-ai-bad',
    });
    await store(admin, 'anthropic', ANTHROPIC_KEY);
    await store(admin, 'openai', OPENAI_KEY);
    await store(badAdmin, 'anthropic', WRONG_ANTHROPIC);
    await store(badAdmin, 'openai', WRONG_OPENAI);
    invoker = await TestKey.create(started, { permissions: ['ai:invoke'], organizationId: 'org-ai' });
    tokens.push(admin.token, badAdmin.token);
    invokerClient = await connect(invoker);
  });

  beforeEach(() => {
    anthropic.reset();
    openai.reset();
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await started?.close();
    await anthropic.stop();
    await openai.stop();
  });

  it('lists both tools to a key holding ai:invoke, with bounded arguments', async () => {
    const { tools } = await invokerClient.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['ai_anthropic_message', 'ai_openai_chat']) {
      const props = byName.get(name)?.inputSchema.properties as Record<string, Record<string, unknown>>;
      expect(Object.keys(props).sort()).toEqual(['maxTokens', 'messages', 'model', 'system', 'temperature']);
      expect(props.messages).toMatchObject({ minItems: 1, maxItems: 50 });
      // A message is as strict as the arguments: its schema says so too.
      expect(props.messages.items).toMatchObject({ additionalProperties: false });
      // Nothing in the caller's business systems changes, but each call is billed, answers differently and
      // reaches outside: a client must not treat a call as free to repeat.
      expect(byName.get(name)?.annotations).toMatchObject({
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      });
    }
  });

  it('Anthropic: sends the stored key and version, maps the body, and maps the message', async () => {
    const r = await claude({ system: 'Answer in one word.', temperature: 0.2, maxTokens: 300 });
    expect(r.isError).toBeFalsy();
    expect(r.structured).toEqual({
      model: 'claude-sonnet-4-5',
      text: expect.stringContaining('last_user="And 3+3?"'),
      stopReason: 'end_turn',
      usage: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) },
    });
    expect(r.structured!.text).toContain('system="Answer in one word."');
    expect(anthropic.requests).toHaveLength(1);
    const sent = anthropic.lastRequest!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(wire(sent)).not.toContain(invoker.token);
    expect(sent.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 300,
      messages: CONVERSATION,
      system: 'Answer in one word.',
      temperature: 0.2,
    });
  });

  it('Anthropic: max_tokens defaults to 1024; a reply cut at maxTokens says max_tokens', async () => {
    await claude();
    expect(anthropic.lastRequest!.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      messages: CONVERSATION,
    });
    const cut = await claude({ maxTokens: 2 });
    expect(cut.structured).toMatchObject({ stopReason: 'max_tokens', usage: { outputTokens: 2 } });
  });

  it('OpenAI: sends the stored key as Bearer, the system prompt first, and maps the completion', async () => {
    const r = await gpt({ system: 'Be brief.', temperature: 1.5, maxTokens: 200 });
    expect(r.isError).toBeFalsy();
    expect(r.structured).toEqual({
      model: 'gpt-4o-mini-2024-07-18', // the snapshot the API answered with
      text: expect.stringContaining('temperature=1.5'),
      stopReason: 'stop',
      usage: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) },
    });
    const sent = openai.lastRequest!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(wire(sent)).not.toContain(invoker.token);
    expect(sent.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, ...CONVERSATION],
      max_completion_tokens: 200,
      temperature: 1.5,
    });
    expect((await gpt({ maxTokens: 1 })).structured).toMatchObject({ stopReason: 'length' });
  });

  it('refused stored keys: an error naming the fix', async () => {
    const bad = await connect(
      await TestKey.create(started, { permissions: ['ai:invoke'], organizationId: 'org-ai-bad' }),
    );
    const a = await call('ai_anthropic_message', { model: 'claude-sonnet-4-5', messages: CONVERSATION }, bad);
    expect(a).toMatchObject({ isError: true });
    expect(a.text).toBe(
      'Anthropic refused the stored credentials (HTTP 401); an admin can replace them with PUT /credentials/anthropic.',
    );
    expect(anthropic.lastRequest!.headers['x-api-key']).toBe(WRONG_ANTHROPIC);
    const o = await call('ai_openai_chat', { model: 'gpt-4o-mini', messages: CONVERSATION }, bad);
    expect(o.text).toBe(
      'OpenAI refused the stored credentials (HTTP 401); an admin can replace them with PUT /credentials/openai.',
    );
    // The simulator's 401 body names the key masked, like OpenAI's; none of it reaches the caller.
    expect(o.text).not.toContain('Incorrect API key');
  });

  it('no stored credentials: an error naming the fix, and nothing sent upstream', async () => {
    const none = await connect(
      await TestKey.create(started, { permissions: ['ai:invoke'], organizationId: 'org-ai-none' }),
    );
    const r = await call('ai_openai_chat', { model: 'gpt-4o-mini', messages: CONVERSATION }, none);
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toContain('No OpenAI credentials are stored for this organisation');
    expect(r.text).toContain('PUT /credentials/openai');
    expect(openai.requests).toHaveLength(0);
  });

  it('an unknown model: not found, naming it', async () => {
    expect((await claude({ model: 'claude-does-not-exist' })).text).toBe(
      'Anthropic has no model "claude-does-not-exist" available to the stored key.',
    );
    expect((await gpt({ model: 'gpt-nope' })).text).toBe(
      'OpenAI has no model "gpt-nope" available to the stored key.',
    );
  });

  it("400: the upstream's message, cut to 300 characters", async () => {
    anthropic.failNext(400, { message: 'messages: roles must alternate between "user" and "assistant"' });
    const r = await claude();
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toBe(
      'Anthropic refused the request: messages: roles must alternate between "user" and "assistant"',
    );
    openai.failNext(400, {
      message: `This model's maximum context length is 128000 tokens. ${'x'.repeat(500)}`,
    });
    const long = await gpt();
    expect(long.text.startsWith("OpenAI refused the request: This model's maximum context length")).toBe(
      true,
    );
    expect(long.text.length).toBeLessThanOrEqual('OpenAI refused the request: '.length + 300);
  });

  it('a 400 whose message quotes the stored key is told with the key redacted', async () => {
    anthropic.failNext(400, { message: `invalid x-api-key ${ANTHROPIC_KEY} for this workspace` });
    const a = await claude();
    expect(a.isError).toBe(true);
    expect(a.text).toBe('Anthropic refused the request: invalid x-api-key [redacted] for this workspace');
    openai.failNext(400, { message: `Incorrect API key provided: ${OPENAI_KEY}.` });
    const o = await gpt();
    expect(o.isError).toBe(true);
    expect(o.text).toBe('OpenAI refused the request: Incorrect API key provided: [redacted].');
  });

  it('529 overloaded is retried (the provider refused it), then succeeds', async () => {
    anthropic.failNext(529);
    const r = await claude();
    expect(r.isError).toBeFalsy();
    expect(r.structured?.stopReason).toBe('end_turn');
    expect(anthropic.requests).toHaveLength(2);
    expect(anthropic.requests[1].raw).toBe(anthropic.requests[0].raw);
  });

  it('429 with retry-after: waited for, then succeeds; when it persists, says when to retry', async () => {
    openai.failNext(429, { retryAfter: 1 });
    const t0 = Date.now();
    expect((await gpt()).isError).toBeFalsy();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(openai.requests).toHaveLength(2);

    openai.reset();
    anthropic.failNext(429, { retryAfter: 1, times: 10 });
    const persisting = await claude();
    expect(persisting.text).toBe(
      'Anthropic is rate limiting requests for this organisation; retry after 1 s.',
    );
    expect(anthropic.requests).toHaveLength(3); // UPSTREAM_MAX_RETRIES 2

    // A wait longer than UPSTREAM_MAX_RETRY_WAIT_MS is not waited for: the caller is told.
    openai.failNext(429, { retryAfter: 120 });
    expect((await gpt()).text).toBe(
      'OpenAI is rate limiting requests for this organisation; retry after 120 s.',
    );
    expect(openai.requests).toHaveLength(1);
  });

  it('429 insufficient_quota (OpenAI out of credit) is not waited out: one request, the owner told to act', async () => {
    openai.respondNext({
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: {
          message: 'You exceeded your current quota, please check your plan and billing details.',
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      },
    });
    const r = await gpt();
    expect(r.isError).toBe(true);
    expect(r.text).toBe(
      "OpenAI refused the call: the account's quota is used up (insufficient_quota); its owner must check " +
        'the plan and billing at OpenAI. Retrying will not help.',
    );
    expect(openai.requests).toHaveLength(1);
  });

  it('5xx: a completion that may have run is not sent again; the caller is told to retry later', async () => {
    anthropic.failNext(500);
    expect((await claude()).text).toBe('Anthropic is failing (HTTP 500); retry later.');
    expect(anthropic.requests).toHaveLength(1);
    openai.failNext(503, { retryAfter: 3 });
    expect((await gpt()).text).toBe('OpenAI is failing (HTTP 503); retry after 3 s.');
    expect(openai.requests).toHaveLength(1);
    anthropic.reset();
    anthropic.failNext(529, { times: 3 });
    expect((await claude()).text).toBe('Anthropic is failing (HTTP 529); retry later.');
    expect(anthropic.requests).toHaveLength(3);
  });

  it('a 200 that is not the documented shape: a bad-response error, nothing of the body', async () => {
    openai.respondNext({ status: 200, body: { object: 'list', data: [{ secret: 'upstream-body-text' }] } });
    const r = await gpt();
    expect(r.text).toBe(
      'OpenAI answered something this server cannot read (a completion without the documented fields); retrying may help.',
    );
  });

  it('invalid arguments: an error naming each, and nothing sent upstream', async () => {
    const r = await claude({ temperature: 1.5, messages: [] });
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toContain('temperature');
    expect(r.text).toContain('messages');
    expect((await gpt({ model: 'gpt 4o', maxTokens: 9000 })).text).toMatch(
      /model.*maxTokens|maxTokens.*model/s,
    );
    expect(anthropic.requests).toHaveLength(0);
    expect(openai.requests).toHaveLength(0);
  });

  it('a member a message does not have is refused by name, not dropped, and nothing is sent', async () => {
    const messages = [{ role: 'user', content: 'Hi', name: 'ada' }];
    for (const r of [await claude({ messages }), await gpt({ messages })]) {
      expect(r.isError).toBe(true);
      // Not told the top level's fields (model, messages, ...), which are not a message's.
      expect(r.text).toMatch(
        /^Invalid arguments for tool "ai_\w+": messages\.0\.name: is not a known field \(known: role, content\)$/,
      );
    }
    expect(anthropic.requests).toHaveLength(0);
    expect(openai.requests).toHaveLength(0);
  });

  it('a key without ai:invoke neither sees nor calls the tools', async () => {
    const reader = await connect(
      await TestKey.create(started, { permissions: ['xero:read'], organizationId: 'org-ai' }),
    );
    const { tools } = await reader.listTools();
    expect(tools.map((t) => t.name)).not.toContain('ai_anthropic_message');
    const r = await call(
      'ai_anthropic_message',
      { model: 'claude-sonnet-4-5', messages: CONVERSATION },
      reader,
    );
    expect(r).toMatchObject({ isError: true });
    expect(r.text).toContain('"ai:invoke"');
    expect(anthropic.requests).toHaveLength(0);
  });

  it('no stored key and no caller token appears in any tool result', () => {
    expect(results.length).toBeGreaterThan(15);
    const all = results.join('\n');
    for (const secret of [ANTHROPIC_KEY, OPENAI_KEY, WRONG_ANTHROPIC, WRONG_OPENAI, ...tokens])
      expect(all).not.toContain(secret);
  });
});
