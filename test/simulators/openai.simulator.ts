/**
 * A local stand-in for the OpenAI Chat Completions API
 * (`POST /v1/chat/completions`), as the AI connector depends on it:
 * - auth: `Authorization: Bearer <key>` (401 when missing or not a known key;
 *   like the real API, the wrong-key message names the key masked);
 * - the request body is checked like the real API: `model` and `messages`
 *   (system/developer/user/assistant, string or text-part content) required,
 *   `max_completion_tokens` / `max_tokens` integers >= 1, `temperature` 0-2;
 *   a body not sent as `Content-Type: application/json` is not read (400 "you
 *   must provide a model parameter", as the real API answers); an unknown field is refused ("Unrecognized request argument"); an unknown
 *   model answers 404 `model_not_found`;
 * - `max_completion_tokens` / `max_tokens` above the model's output limit is
 *   refused (400 invalid_value), as the real API does;
 * - errors are `{"error":{"message","type","param","code"}}`; 429 carries
 *   `retry-after` when told, and the `x-ratelimit-*` headers with no requests
 *   remaining; a completion carries them too;
 * - the answer is a deterministic chat.completion that echoes facts of the
 *   request; an alias model answers with its dated snapshot name, as OpenAI does;
 * - `GET /v1/models` (same auth) lists the models as
 *   `{"object":"list","data":[{id,object:"model",created,owned_by}]}` (it takes no paging).
 *
 *   const sim = new OpenAiSimulator({ apiKeys: ['sk-...'] });
 *   await sim.start(); ... startApp({ OPENAI_BASE_URL: sim.url }) ...
 */
import {
  echoReply,
  FailOptions,
  LlmSimulatorBase,
  RecordedRequest,
  roughTokens,
  SimAnswer,
} from './llm-simulator-base';

/** Model alias -> the snapshot the API answers with. */
export const OPENAI_MODELS: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
};
/** The most completion tokens each snapshot writes (the models' published output limits). */
export const OPENAI_MAX_OUTPUT: Record<string, number> = {
  'gpt-4o-mini-2024-07-18': 16_384,
  'gpt-4o-2024-08-06': 16_384,
  'gpt-4.1-2025-04-14': 32_768,
};
/** The simulated account's per-minute request limit, sent in the `x-ratelimit-*` headers. */
const REQUESTS_PER_MINUTE = 500;

/** OpenAI's rate-limit headers, as sent on every chat completion answer (and on 429, with none left). */
function rateLimitHeaders(remaining: number, resetSeconds: number): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(REQUESTS_PER_MINUTE),
    'x-ratelimit-remaining-requests': String(remaining),
    'x-ratelimit-reset-requests': `${resetSeconds}s`,
    'x-ratelimit-limit-tokens': '200000',
    'x-ratelimit-remaining-tokens': remaining === 0 ? '0' : '199000',
    'x-ratelimit-reset-tokens': `${resetSeconds}s`,
  };
}

const DEFAULTS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Invalid request', type: 'invalid_request_error', code: null },
  401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: {
    message: 'Country, region, or territory not supported',
    type: 'request_forbidden',
    code: 'unsupported_country_region_territory',
  },
  429: {
    message: 'Rate limit reached for requests. Please try again in 1s.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    code: null,
  },
  503: {
    message: 'The engine is currently overloaded, please try again later.',
    type: 'server_error',
    code: null,
  },
};
const ALLOWED_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'n',
  'stop',
  'user',
  'stream',
]);
const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

export function openAiError(
  status: number,
  message: string,
  type = 'invalid_request_error',
  param: string | null = null,
  code: string | null = null,
): SimAnswer {
  return { status, body: { error: { message, type, param, code } } };
}

type Message = { role?: unknown; content?: unknown };

function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const texts = (content as { type?: unknown; text?: unknown }[]).map((p) =>
    p?.type === 'text' ? p.text : undefined,
  );
  return texts.every((t) => typeof t === 'string') ? texts.join('') : undefined;
}

/** As the real API shows a wrong key: its first three and last four characters. */
const mask = (key: string) => `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 7))}${key.slice(-4)}`;

export class OpenAiSimulator extends LlmSimulatorBase {
  private counter = 0;
  private readonly keys: Set<string>;

  constructor(opts: { apiKeys: string[] }) {
    super();
    this.keys = new Set(opts.apiKeys);
  }

  /** The base URL to give the app (OPENAI_BASE_URL): with /v1, as the SDK takes it. */
  get url(): string {
    return `${this.origin}/v1`;
  }

  protected errorAnswer(status: number, o: FailOptions): SimAnswer {
    const d = DEFAULTS[status] ?? { message: `simulated ${status}`, type: 'server_error', code: null };
    const answer = openAiError(status, o.message ?? d.message, d.type, null, d.code);
    if (status === 429) answer.headers = rateLimitHeaders(0, o.retryAfter ?? 1);
    return answer;
  }

  /** `GET /v1/models`: every snapshot and alias, as the real list names both. */
  private models(): SimAnswer {
    const ids = [...new Set([...Object.keys(OPENAI_MODELS), ...Object.values(OPENAI_MODELS)])];
    return {
      status: 200,
      body: {
        object: 'list',
        data: ids.map((id) => ({ id, object: 'model', created: 1_721_172_741, owned_by: 'system' })),
      },
    };
  }

  protected handle(req: RecordedRequest): SimAnswer {
    const path = req.path.split('?')[0];
    const listing = path === '/v1/models' && req.method === 'GET';
    if (!listing && (path !== '/v1/chat/completions' || req.method !== 'POST'))
      return openAiError(404, `Invalid URL (${req.method} ${path})`);
    const auth = req.headers.authorization;
    if (typeof auth !== 'string' || !auth.startsWith('Bearer '))
      return openAiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    const key = auth.slice('Bearer '.length);
    if (!this.keys.has(key))
      return openAiError(
        401,
        `Incorrect API key provided: ${mask(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    if (listing) return this.models();
    // The API reads the body as JSON only when it is declared so: without the header the body is not
    // read at all, and the first required field is reported missing.
    if (!/^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? '')))
      return openAiError(400, 'you must provide a model parameter');
    const body = req.body as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return openAiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
      );
    const extra = Object.keys(body).find((k) => !ALLOWED_FIELDS.has(k));
    if (extra) return openAiError(400, `Unrecognized request argument supplied: ${extra}`);
    if (typeof body.model !== 'string') return openAiError(400, 'you must provide a model parameter');
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return openAiError(
        400,
        "[] is too short - 'messages'",
        'invalid_request_error',
        'messages',
        'empty_array',
      );
    const messages = body.messages as Message[];
    for (const [i, m] of messages.entries()) {
      if (typeof m?.role !== 'string' || !ROLES.has(m.role))
        return openAiError(
          400,
          `Invalid value: '${String(m?.role)}'.`,
          'invalid_request_error',
          `messages[${i}].role`,
        );
      if (contentText(m.content) === undefined)
        return openAiError(
          400,
          `Invalid type for 'messages[${i}].content'.`,
          'invalid_request_error',
          `messages[${i}].content`,
        );
    }
    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1))
      return openAiError(400, "Invalid 'max_completion_tokens': integer below minimum value.");
    const t = body.temperature;
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 2))
      return openAiError(
        400,
        `Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got ${String(t)} instead.`,
        'invalid_request_error',
        'temperature',
        'decimal_above_max_value',
      );
    const snapshot = OPENAI_MODELS[body.model] ?? Object.values(OPENAI_MODELS).find((s) => s === body.model);
    if (!snapshot)
      return openAiError(
        404,
        `The model \`${body.model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        null,
        'model_not_found',
      );
    const most = OPENAI_MAX_OUTPUT[snapshot];
    if (maxTokens !== undefined && most !== undefined && (maxTokens as number) > most) {
      const param = body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
      return openAiError(
        400,
        `${param} is too large: ${String(maxTokens)}. This model supports at most ${most} completion tokens, whereas you provided ${String(maxTokens)}.`,
        'invalid_request_error',
        param,
        'invalid_value',
      );
    }

    const system = messages.filter((m) => m.role === 'system' || m.role === 'developer');
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const reply = echoReply({
      model: body.model,
      messages: messages.length,
      lastUser: lastUser ? contentText(lastUser.content)! : '',
      system: system.length > 0 ? system.map((m) => contentText(m.content)).join('\n') : undefined,
      maxTokens: (maxTokens as number | undefined) ?? 4096,
      temperature: t as number | undefined,
    });
    const promptTokens = roughTokens(messages.map((m) => contentText(m.content)).join(''));
    this.counter += 1;
    return {
      status: 200,
      headers: { 'x-request-id': `req_sim_${this.counter}`, ...rateLimitHeaders(REQUESTS_PER_MINUTE - 1, 1) },
      body: {
        id: `chatcmpl-sim${String(this.counter).padStart(6, '0')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: snapshot,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply.text, refusal: null },
            logprobs: null,
            finish_reason: reply.truncated ? 'length' : 'stop',
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: reply.words,
          total_tokens: promptTokens + reply.words,
        },
        system_fingerprint: null,
      },
    };
  }
}
