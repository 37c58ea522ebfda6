import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';

/** The `code` of an error answer that names none of its own: one per status. */
const STATUS_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  500: 'internal_error',
  503: 'service_unavailable',
};

/** The code an error answer of `status` carries when nothing more precise names it. */
export function statusErrorCode(status: number): string {
  return STATUS_ERROR_CODES[status] ?? (status >= 500 ? 'internal_error' : `http_${status}`);
}

/**
 * A REST error body (`statusCode` in it) in the one shape every route
 * answers with: `{ statusCode, error, code, message, ... }`. A body without
 * `code` gets its `reason` (the authentication answers') or the status's own
 * code; one without `error` gets the status text. Anything else (a JSON-RPC
 * answer of /mcp, a success) is returned as it is.
 */
export function withErrorEnvelope(body: unknown, status: number): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  if (typeof b.statusCode !== 'number' || (typeof b.code === 'string' && typeof b.error === 'string'))
    return body;
  return {
    ...b,
    error: typeof b.error === 'string' ? b.error : (STATUS_CODES[status] ?? 'Error'),
    code:
      typeof b.code === 'string' ? b.code : typeof b.reason === 'string' ? b.reason : statusErrorCode(status),
  };
}

/** Where an error answer's `code` is left on `res.locals`, for the audit of calls no route took. */
export const ERROR_CODE_LOCAL = 'errorCode';

/**
 * Every error answered as JSON goes through `withErrorEnvelope`, whoever
 * wrote it (a pipe, a guard, the body parser, the router's 404/405, Nest's
 * own 500): a script reads `code` from any of them, and so does the audit
 * (`res.locals.errorCode`). Set once on the app's response prototype
 * (`app.response`, which every response of this app is built on), so a
 * request pays nothing for it.
 */
export function installErrorEnvelope(app: { response: Response }): void {
  const json = app.response.json;
  app.response.json = function (this: Response, body?: unknown) {
    if (this.statusCode < 400) return json.call(this, body);
    const enveloped = withErrorEnvelope(body, this.statusCode);
    const code = (enveloped as { code?: unknown } | null)?.code;
    // `locals` is set by Express for every request that reaches the app.
    if (typeof code === 'string' && this.locals) this.locals[ERROR_CODE_LOCAL] = code;
    return json.call(this, enveloped);
  };
}
