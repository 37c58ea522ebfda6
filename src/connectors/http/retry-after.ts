/**
 * How long an upstream asked to wait, in milliseconds, from `retry-after-ms`
 * (OpenAI, Anthropic) or `Retry-After` (seconds or an HTTP date); undefined
 * when neither is there or readable. Never negative.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.max(0, Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter for attempt n (0-based): 250 ms, 500 ms, 1 s ... each between half and all of it. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const full = 250 * 2 ** Math.min(attempt, 6);
  return Math.round(full / 2 + (random() * full) / 2);
}
