/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`), as
 * the AI connector depends on it (docs: api reference "Messages", "Errors"),
 * and its Models API list (`GET /v1/models`, the connector's admin check):
 * - auth: `x-api-key` (401 authentication_error when missing or not a known
 *   key) and `anthropic-version: 2023-06-01` (400 when missing or unknown);
 * - the request body is checked like the real API: `model`, `max_tokens`
 *   (required, at most the model's output limit) and `messages`
 *   (user/assistant, string or block content),
 *   optional `system`, `temperature` 0-1; any other top-level field, or a
 *   message member other than role and content, is refused ("Extra inputs are
 *   not permitted"); an unknown model answers 404;
 * - message text as the real API holds it: empty content only in a final
 *   assistant message, no whitespace-only text, and no trailing whitespace at
 *   the end of a final assistant message (the prefill);
 * - errors are `{"type":"error","error":{"type","message"},"request_id"}`: 400
 *   invalid_request_error, 401 authentication_error, 403 permission_error, 404
 *   not_found_error, 413 request_too_large, 429 rate_limit_error (with
 *   `retry-after`), 500 api_error, 529 overloaded_error;
 * - the answer is a deterministic message that echoes facts of the request;
 * - `GET /v1/models` (same auth and version headers) lists the configured
 *   models newest first as `{"data":[{type,id,display_name,created_at}],
 *   "has_more","first_id","last_id"}`, `limit` 1-1000 (default 20; else 400).
 *
 *   const sim = new AnthropicSimulator({ apiKeys: ['sk-ant-...'] });
 *   await sim.start(); ... startApp({ ANTHROPIC_BASE_URL: sim.url }) ...
 *   sim.failNext(529, { retryAfter: 0 }); sim.lastRequest?.headers['x-api-key']
 */
import {
  echoReply,
  FailOptions,
  LlmSimulatorBase,
  RecordedRequest,
  roughTokens,
  SimAnswer,
} from './llm-simulator-base';

export const ANTHROPIC_VERSION = '2023-06-01';
export const ANTHROPIC_MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];
/** The most output tokens each model writes (its published limit); a larger max_tokens is refused. */
export const ANTHROPIC_MAX_OUTPUT: Record<string, number> = {
  'claude-sonnet-4-5': 64_000,
  'claude-opus-4-1': 32_000,
  'claude-haiku-4-5': 64_000,
};

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};
const DEFAULT_MESSAGES: Record<number, string> = {
  429: 'Number of request tokens has exceeded your per-minute rate limit',
  529: 'Overloaded',
  500: 'Internal server error',
};
const ALLOWED_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'metadata',
  'stream',
]);

export function anthropicError(status: number, message: string): SimAnswer {
  const requestId = `req_sim_${status}`;
  return {
    status,
    body: {
      type: 'error',
      error: { type: ERROR_TYPES[status] ?? 'api_error', message },
      request_id: requestId,
    },
    headers: { 'request-id': requestId },
  };
}

type Block = { type?: unknown; text?: unknown };
type Message = { role?: unknown; content?: unknown };

function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const texts = (content as Block[]).map((b) => (b?.type === 'text' ? b.text : undefined));
  return texts.every((t) => typeof t === 'string') ? texts.join('') : undefined;
}

/**
 * What the real API says of a message's text (messages.<i>), or undefined when it takes it:
 * content is a string or text blocks, none of them empty; only a final assistant message may be
 * empty; text is not whitespace alone; a final assistant message (the prefill) does not end in
 * whitespace.
 */
function textRule(m: Message, i: number, last: boolean): string | undefined {
  const text = contentText(m.content);
  if (text === undefined) return `messages.${i}.content: Input should be a valid list or string`;
  if (Array.isArray(m.content) && (m.content as Block[]).some((b) => b.text === ''))
    return 'messages: text content blocks must be non-empty';
  const prefill = last && m.role === 'assistant';
  if (text === '')
    return prefill
      ? undefined
      : `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
  if (text.trim() === '') return 'messages: text content blocks must contain non-whitespace text';
  if (prefill && /\s$/.test(text))
    return 'messages: final assistant content cannot end with trailing whitespace';
  return undefined;
}

export class AnthropicSimulator extends LlmSimulatorBase {
  private counter = 0;
  private readonly keys: Set<string>;
  private readonly models: Set<string>;

  constructor(opts: { apiKeys: string[]; models?: string[] }) {
    super();
    this.keys = new Set(opts.apiKeys);
    this.models = new Set(opts.models ?? ANTHROPIC_MODELS);
  }

  /** The base URL to give the app (ANTHROPIC_BASE_URL): without /v1, as the SDK takes it. */
  get url(): string {
    return this.origin;
  }

  protected errorAnswer(status: number, o: FailOptions): SimAnswer {
    return anthropicError(status, o.message ?? DEFAULT_MESSAGES[status] ?? `simulated ${status}`);
  }

  /** `GET /v1/models`: the configured models, one page of `limit`. */
  private listModels(req: RecordedRequest): SimAnswer {
    if (req.method !== 'GET') return anthropicError(405, 'Method Not Allowed');
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || key === '') return anthropicError(401, 'x-api-key header is required');
    if (!this.keys.has(key)) return anthropicError(401, 'invalid x-api-key');
    const version = req.headers['anthropic-version'];
    if (version !== ANTHROPIC_VERSION)
      return anthropicError(
        400,
        `anthropic-version: ${version === undefined ? 'header is required' : 'unknown version'}`,
      );
    const limitText = new URLSearchParams(req.path.split('?')[1] ?? '').get('limit');
    const limit = limitText === null ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      return anthropicError(400, 'limit: Input should be less than or equal to 1000');
    const all = [...this.models].map((id, i) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: new Date(Date.UTC(2025, 9, 1) - i * 86_400_000).toISOString(),
    }));
    const data = all.slice(0, limit);
    return {
      status: 200,
      body: {
        data,
        has_more: all.length > limit,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
      },
    };
  }

  protected handle(req: RecordedRequest): SimAnswer {
    const { keys, models } = this;
    if (req.path.split('?')[0] === '/v1/models') return this.listModels(req);
    if (req.path.split('?')[0] !== '/v1/messages') return anthropicError(404, 'Not Found');
    if (req.method !== 'POST') return anthropicError(405, 'Method Not Allowed');
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || key === '') return anthropicError(401, 'x-api-key header is required');
    if (!keys.has(key)) return anthropicError(401, 'invalid x-api-key');
    const version = req.headers['anthropic-version'];
    if (version === undefined) return anthropicError(400, 'anthropic-version: header is required');
    if (version !== ANTHROPIC_VERSION)
      return anthropicError(400, `anthropic-version: unknown version ${String(version)}`);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      return anthropicError(400, 'Content-Type must be application/json');
    const body = req.body as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return anthropicError(400, 'There was an error parsing the body of your request');

    const extra = Object.keys(body).find((k) => !ALLOWED_FIELDS.has(k));
    if (extra) return anthropicError(400, `${extra}: Extra inputs are not permitted`);
    if (typeof body.model !== 'string') return anthropicError(400, 'model: Field required');
    if (body.max_tokens === undefined) return anthropicError(400, 'max_tokens: Field required');
    if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)
      return anthropicError(400, 'max_tokens: Input should be a valid integer greater than 0');
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return anthropicError(400, 'messages: at least one message is required');
    const messages = body.messages as Message[];
    for (const [i, m] of messages.entries()) {
      if (m?.role !== 'user' && m?.role !== 'assistant')
        return anthropicError(400, `messages.${i}.role: Input should be 'user' or 'assistant'`);
      const member = Object.keys(m).find((k) => k !== 'role' && k !== 'content');
      if (member) return anthropicError(400, `messages.${i}.${member}: Extra inputs are not permitted`);
      const refused = textRule(m, i, i === messages.length - 1);
      if (refused) return anthropicError(400, refused);
    }
    let system: string | undefined;
    if (body.system !== undefined) {
      system = contentText(body.system);
      if (system === undefined) return anthropicError(400, 'system: Input should be a valid list or string');
    }
    const t = body.temperature;
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 1))
      return anthropicError(400, 'temperature: Input should be less than or equal to 1');
    if (!models.has(body.model)) return anthropicError(404, `model: ${body.model}`);
    const most = ANTHROPIC_MAX_OUTPUT[body.model];
    if (most !== undefined && (body.max_tokens as number) > most)
      return anthropicError(
        400,
        `max_tokens: ${String(body.max_tokens)} > ${most}, which is the maximum allowed number of output tokens for ${body.model}`,
      );

    const texts = messages.map((m) => contentText(m.content)!);
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const reply = echoReply({
      model: body.model,
      messages: messages.length,
      lastUser: lastUser ? contentText(lastUser.content)! : '',
      system,
      maxTokens: body.max_tokens as number,
      temperature: t as number | undefined,
    });
    this.counter += 1;
    return {
      status: 200,
      headers: { 'request-id': `req_sim_${this.counter}` },
      body: {
        id: `msg_sim_${String(this.counter).padStart(6, '0')}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: reply.text }],
        stop_reason: reply.truncated ? 'max_tokens' : 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: roughTokens((system ?? '') + texts.join('')),
          output_tokens: reply.words,
        },
      },
    };
  }
}
