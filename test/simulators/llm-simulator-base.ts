/**
 * The HTTP plumbing the two LLM simulators (anthropic.simulator.ts,
 * openai.simulator.ts) share: a node:http server on 127.0.0.1 port 0 that
 * records every request, answers queued failures and answers first
 * (`failNext`, `respondNext`), and
 * otherwise hands the parsed request to the simulator's own handler.
 */
import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path with query string, e.g. `/v1/messages`. */
  path: string;
  /** Lower-cased header names, as Node gives them. */
  headers: IncomingHttpHeaders;
  /** The body as received. */
  raw: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

export interface FailOptions {
  /** Seconds, sent as `retry-after` (429, 529, 503). */
  retryAfter?: number;
  /** How many of the next requests fail this way (default 1). */
  times?: number;
  /** The error message in the body (a default per status otherwise). */
  message?: string;
}

export interface SimAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export abstract class LlmSimulatorBase {
  readonly requests: RecordedRequest[] = [];
  private readonly queued: (SimAnswer | { status: number; opts: FailOptions; fail: true })[] = [];
  private server?: Server;
  private baseUrl?: string;

  /** The provider's own handling of one request that no queued failure took. */
  protected abstract handle(req: RecordedRequest): SimAnswer;
  /** The provider's error answer for a queued failure. */
  protected abstract errorAnswer(status: number, opts: FailOptions): SimAnswer;

  /** `http://127.0.0.1:<port>` (no trailing slash). */
  get origin(): string {
    if (!this.baseUrl) throw new Error('simulator not started');
    return this.baseUrl;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          body = undefined;
        }
        const recorded: RecordedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
        };
        this.requests.push(recorded);
        send(res, this.answer(recorded));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `opts.times` (default 1) requests answer `status` with the provider's error body. */
  failNext(status: number, opts: FailOptions = {}): void {
    for (let i = 0; i < (opts.times ?? 1); i += 1) this.queued.push({ status, opts, fail: true });
  }

  /** The next request gets exactly this answer (e.g. a 200 that is not the documented shape). */
  respondNext(answer: SimAnswer): void {
    this.queued.push(answer);
  }

  /** Forgets recorded requests and queued answers. */
  reset(): void {
    this.requests.length = 0;
    this.queued.length = 0;
  }

  get lastRequest(): RecordedRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  private answer(req: RecordedRequest): SimAnswer {
    const next = this.queued.shift();
    if (next && 'fail' in next) {
      const answer = this.errorAnswer(next.status, next.opts);
      if (next.opts.retryAfter !== undefined)
        answer.headers = { ...answer.headers, 'retry-after': String(next.opts.retryAfter) };
      return answer;
    }
    if (next) return next;
    return this.handle(req);
  }
}

function send(res: ServerResponse, answer: SimAnswer): void {
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...answer.headers,
  });
  res.end(text);
}

/** A rough token count (about 4 characters a token), deterministic for tests. */
export function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * The deterministic reply both simulators give: it states what the request
 * asked, so a test can see the mapping in the result as well as in the
 * recorded request. Cut to `maxTokens` words (`truncated` then true).
 */
export function echoReply(facts: {
  model: string;
  messages: number;
  lastUser: string;
  system?: string;
  maxTokens: number;
  temperature?: number;
}): { text: string; words: number; truncated: boolean } {
  const parts = [
    `model=${facts.model}`,
    `messages=${facts.messages}`,
    `max_tokens=${facts.maxTokens}`,
    `temperature=${facts.temperature ?? 'default'}`,
    `system=${facts.system === undefined ? 'none' : JSON.stringify(facts.system.slice(0, 40))}`,
    `last_user=${JSON.stringify(facts.lastUser.slice(0, 80))}`,
  ];
  const words = parts.join(' ').split(' ');
  const truncated = words.length > facts.maxTokens;
  const kept = truncated ? words.slice(0, facts.maxTokens) : words;
  return { text: kept.join(' '), words: kept.length, truncated };
}
