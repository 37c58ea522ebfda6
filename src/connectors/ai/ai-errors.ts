import { z } from 'zod';
import type { UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError, UpstreamService } from '../http/upstream.errors';

/** The most characters of an upstream's validation message a tool result carries. */
export const MAX_DETAIL_CHARS = 300;

/**
 * Both providers put a human-readable message at `error.message`: Anthropic
 * `{"type":"error","error":{"type","message"}}`, OpenAI
 * `{"error":{"message","type","param","code"}}`.
 */
const ERROR_BODY = z.object({ error: z.object({ message: z.string() }) });

/**
 * The upstream's `error.message`, on one line, with the stored key scrubbed
 * (should a provider ever echo it) and cut to MAX_DETAIL_CHARS UTF-16 units
 * without splitting a character; undefined when the body has no such field. Nothing
 * else of the body is ever used.
 */
export function upstreamErrorMessage(json: unknown, secret: string): string | undefined {
  const parsed = ERROR_BODY.safeParse(json);
  if (!parsed.success) return undefined;
  let message = parsed.data.error.message;
  if (secret.length > 0) message = message.split(secret).join('[redacted]');
  message = message.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
  if (message === '') return undefined;
  if (message.length <= MAX_DETAIL_CHARS) return message;
  let cut = message.slice(0, MAX_DETAIL_CHARS - 1);
  // Never end on half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Parses a JSON body without throwing: undefined when it is not JSON. */
function jsonOrUndefined(res: UpstreamResponse): unknown {
  try {
    return res.json();
  } catch {
    return undefined;
  }
}

/**
 * The tool error for an answer that is not a 2xx: 401/403 the stored key was
 * refused, 400/413/422 the request was (with the upstream's message), 404 the
 * model is unknown (or not available to the key), anything else an
 * unexpected status. (429, 529 and 5xx after retries are the foundation's.)
 */
export function aiErrorFor(
  service: UpstreamService,
  res: UpstreamResponse,
  context: { model: string; apiKey: string },
): UpstreamError {
  const status = res.status;
  if (status === 401 || status === 403) return UpstreamError.rejectedCredentials(service, status);
  if (status === 404)
    return UpstreamError.notFound(service, `model "${context.model}" available to the stored key`);
  if (status === 400 || status === 413 || status === 422) {
    const detail = upstreamErrorMessage(jsonOrUndefined(res), context.apiKey);
    return UpstreamError.invalidRequest(service, detail ?? `the request was refused (HTTP ${status})`);
  }
  return UpstreamError.unexpectedStatus(service, status);
}

/** OpenAI's error body with its machine-readable `code` and `type`. */
const OPENAI_ERROR_CODE = z.object({
  error: z.object({ code: z.string().nullish(), type: z.string().nullish() }),
});

/**
 * OpenAI answers 429 `insufficient_quota` when the account has no credit
 * left (its plan's quota is used up): unlike a rate limit, no wait mends it,
 * so the call ends at once, telling who can.
 */
export function openAiOutOfCredit(res: UpstreamResponse): UpstreamError | undefined {
  if (res.status !== 429) return undefined;
  const parsed = OPENAI_ERROR_CODE.safeParse(jsonOrUndefined(res));
  if (!parsed.success) return undefined;
  const { code, type } = parsed.data.error;
  if (code !== 'insufficient_quota' && type !== 'insufficient_quota') return undefined;
  return UpstreamError.accountUnavailable(
    'openai',
    "refused the call: the account's quota is used up (insufficient_quota); its owner must check the " +
      'plan and billing at OpenAI. Retrying will not help.',
  );
}
