import type { UpstreamHttp, UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError, UpstreamService } from '../http/upstream.errors';
import { aiErrorFor } from './ai-errors';
import type { Completion } from './ai.schemas';

/**
 * Time a completion may take to generate, per output token asked for, on top
 * of the configured per-attempt limit (UPSTREAM_TIMEOUT_MS, sized for data
 * APIs): a long reply is generated at some tens of tokens a second, so 8,192
 * tokens can take minutes where a data call takes seconds.
 */
export const MS_PER_OUTPUT_TOKEN = 20;

export function completionTimeoutMs(configuredMs: number, maxTokens: number): number {
  return configuredMs + maxTokens * MS_PER_OUTPUT_TOKEN;
}

export interface CompletionCall {
  service: UpstreamService;
  url: URL;
  /** The provider's auth and version headers (JSON content headers are added). */
  headers: Record<string, string>;
  body: Record<string, unknown>;
  signal: AbortSignal;
  timeoutMs: number;
  /** For the messages of errors: the model asked for, and the stored key to keep out of them. */
  model: string;
  apiKey: string;
  /** A refusal (429, 529) not to wait out: UpstreamRequest.refusedForGood. */
  refusedForGood?: (res: UpstreamResponse) => UpstreamError | undefined;
}

/**
 * One completion: a POST through the upstream client (not idempotent: a
 * completion that may have run is not sent again, while 429 and 529, which
 * the provider refused, still are), a non-2xx answer turned into the tool
 * error for it, a 2xx one checked by `parse`.
 */
export async function requestCompletion(
  http: UpstreamHttp,
  call: CompletionCall,
  parse: (json: unknown) => Completion | undefined,
): Promise<Completion> {
  const res = await http.send({
    service: call.service,
    method: 'POST',
    url: call.url,
    headers: { ...call.headers, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(call.body),
    idempotent: false,
    signal: call.signal,
    timeoutMs: call.timeoutMs,
    refusedForGood: call.refusedForGood,
  });
  if (res.status < 200 || res.status > 299)
    throw aiErrorFor(call.service, res, { model: call.model, apiKey: call.apiKey });
  const completion = parse(res.json());
  if (!completion)
    throw UpstreamError.badResponse(call.service, 'a completion without the documented fields');
  return completion;
}
