import type { Response } from 'express';
import { installErrorEnvelope, statusErrorCode, withErrorEnvelope } from './error-envelope';

describe('withErrorEnvelope (every REST error with statusCode, error, code, message)', () => {
  it("gives a body without a code the authentication reason, or the status's own code", () => {
    expect(
      withErrorEnvelope({ statusCode: 401, error: 'Unauthorized', reason: 'expired', message: 'm' }, 401),
    ).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      reason: 'expired',
      code: 'expired',
      message: 'm',
    });
    // Nest's own answer to a fault of ours names neither the error nor a code.
    expect(withErrorEnvelope({ statusCode: 500, message: 'Internal server error' }, 500)).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'internal_error',
      message: 'Internal server error',
    });
    expect(withErrorEnvelope({ statusCode: 400, error: 'Bad Request', message: 'm' }, 400)).toMatchObject({
      code: 'bad_request',
    });
  });

  it('keeps a code the answer names, and leaves anything that is not a REST error body as it is', () => {
    const named = { statusCode: 404, error: 'Not Found', code: 'not_found', message: 'No such key' };
    expect(withErrorEnvelope(named, 404)).toBe(named);
    const rpc = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } };
    expect(withErrorEnvelope(rpc, 400)).toBe(rpc);
    const batch = [{ jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'x' } }];
    expect(withErrorEnvelope(batch, 400)).toBe(batch);
    expect(withErrorEnvelope(null, 500)).toBeNull();
    expect(withErrorEnvelope('text', 500)).toBe('text');
  });

  it('names unlisted statuses by number, and any 5xx as internal_error', () => {
    expect(statusErrorCode(418)).toBe('http_418');
    expect(statusErrorCode(507)).toBe('internal_error');
    expect(statusErrorCode(503)).toBe('service_unavailable');
    expect([429, 413, 431].map(statusErrorCode)).toEqual([
      'rate_limited',
      'payload_too_large',
      'headers_too_large',
    ]);
  });

  it("keeps the answer's own error text when it names no code", () => {
    expect(withErrorEnvelope({ statusCode: 409, error: 'Key Exists', message: 'm' }, 409)).toEqual({
      statusCode: 409,
      error: 'Key Exists',
      code: 'conflict',
      message: 'm',
    });
  });
});

describe('installErrorEnvelope', () => {
  /** The app's response prototype: json() answers what it was given. */
  const app = () => {
    const response = { statusCode: 200, locals: {}, json: (body: unknown) => body } as unknown as Response;
    installErrorEnvelope({ response });
    return response;
  };

  it('envelopes every answer from 400 up, and none below', () => {
    const res = app();
    const body = { statusCode: 400, message: 'm' };
    res.statusCode = 400;
    expect(res.json(body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'bad_request',
      message: 'm',
    });
    res.statusCode = 399;
    expect(res.json(body)).toBe(body);
  });

  it('leaves the code it answered on res.locals, for the audit of calls no route took', () => {
    const res = app();
    res.json({ statusCode: 200 });
    expect(res.locals.errorCode).toBeUndefined();
    res.statusCode = 415;
    res.json({ statusCode: 415, code: 'unsupported_media_type', message: 'm' });
    expect(res.locals.errorCode).toBe('unsupported_media_type');
  });
});
