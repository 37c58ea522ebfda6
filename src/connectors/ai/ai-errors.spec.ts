import type { UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError } from '../http/upstream.errors';
import { aiErrorFor, MAX_DETAIL_CHARS, openAiOutOfCredit, upstreamErrorMessage } from './ai-errors';

const KEY = 'sk-ant-stored-key-0001';

function response(status: number, body: unknown): UpstreamResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    status,
    headers: new Headers(),
    text,
    json: () => JSON.parse(text) as unknown,
  };
}
const anthropicBody = (message: string) => ({
  type: 'error',
  error: { type: 'invalid_request_error', message },
});
const openAiBody = (message: string) => ({
  error: { message, type: 'invalid_request_error', param: null, code: null },
});

describe('upstreamErrorMessage', () => {
  it('reads error.message of both providers and nothing else', () => {
    expect(upstreamErrorMessage(anthropicBody('max_tokens: Field required'), KEY)).toBe(
      'max_tokens: Field required',
    );
    expect(upstreamErrorMessage(openAiBody('Unrecognized request argument supplied: x'), KEY)).toBe(
      'Unrecognized request argument supplied: x',
    );
    expect(upstreamErrorMessage({ message: 'top level' }, KEY)).toBeUndefined();
    expect(upstreamErrorMessage('<html>oops</html>', KEY)).toBeUndefined();
    expect(upstreamErrorMessage(openAiBody(' \n '), KEY)).toBeUndefined();
  });

  it('cuts to 300 characters on one line, never splitting a character, and scrubs the stored key', () => {
    const long = upstreamErrorMessage(openAiBody('a\nb\tc ' + 'x'.repeat(1000)), KEY)!;
    expect(long.length).toBe(MAX_DETAIL_CHARS);
    expect(long.startsWith('a b c x')).toBe(true);
    expect(long.endsWith('…')).toBe(true);
    const emoji = upstreamErrorMessage(openAiBody('y'.repeat(298) + '😀😀'), KEY)!;
    expect(emoji).toBe('y'.repeat(298) + '…');
    expect(upstreamErrorMessage(openAiBody(`bad key ${KEY} here`), KEY)).toBe('bad key [redacted] here');
  });

  it('keeps a message of exactly 300 characters whole', () => {
    const exact = 'z'.repeat(MAX_DETAIL_CHARS);
    expect(upstreamErrorMessage(openAiBody(exact), KEY)).toBe(exact);
    expect(upstreamErrorMessage(openAiBody(exact + 'z'), KEY)).toBe('z'.repeat(MAX_DETAIL_CHARS - 1) + '…');
  });

  it('scrubs every occurrence of the stored key, not only the first', () => {
    expect(upstreamErrorMessage(anthropicBody(`${KEY} is not ${KEY}`), KEY)).toBe(
      '[redacted] is not [redacted]',
    );
  });

  it('puts a run of line breaks, tabs, spaces and control characters (DEL too) as one space', () => {
    expect(upstreamErrorMessage(openAiBody('a\r\n\r\n  b\u0000\u0007c\u007fd'), KEY)).toBe('a b c d');
  });

  it('with no stored key to scrub (an empty one), leaves the message as it is', () => {
    expect(upstreamErrorMessage(openAiBody('max_tokens: too large'), '')).toBe('max_tokens: too large');
  });

  it('reads error.message only when it is a string', () => {
    for (const message of [42, null, { text: 'x' }, ['x']])
      expect(upstreamErrorMessage({ error: { message } }, KEY)).toBeUndefined();
  });
});

describe('aiErrorFor', () => {
  const ctx = { model: 'claude-nope', apiKey: KEY };
  const codeOf = (e: UpstreamError) => [e.code, e.message];

  it('401 and 403: the stored credentials were refused, naming the fix', () => {
    for (const status of [401, 403]) {
      const e = aiErrorFor('anthropic', response(status, anthropicBody(`invalid x-api-key ${KEY}`)), ctx);
      expect(codeOf(e)).toEqual([
        'upstream_rejected_credentials',
        `Anthropic refused the stored credentials (HTTP ${status}); an admin can replace them with PUT /credentials/anthropic.`,
      ]);
    }
  });

  it('400: the upstream message as the detail; a body without one gives the status', () => {
    expect(codeOf(aiErrorFor('openai', response(400, openAiBody('messages: too short')), ctx))).toEqual([
      'upstream_invalid_request',
      'OpenAI refused the request: messages: too short',
    ]);
    expect(aiErrorFor('openai', response(413, 'not json'), ctx).message).toBe(
      'OpenAI refused the request: the request was refused (HTTP 413)',
    );
    expect(
      codeOf(aiErrorFor('anthropic', response(422, anthropicBody('temperature: out of range')), ctx)),
    ).toEqual(['upstream_invalid_request', 'Anthropic refused the request: temperature: out of range']);
    // A message that is not a string is no message: the status is told instead.
    expect(aiErrorFor('openai', response(400, { error: { message: 7 } }), ctx).message).toBe(
      'OpenAI refused the request: the request was refused (HTTP 400)',
    );
  });

  it('404: the model is named', () => {
    expect(codeOf(aiErrorFor('openai', response(404, openAiBody('The model does not exist')), ctx))).toEqual([
      'upstream_not_found',
      'OpenAI has no model "claude-nope" available to the stored key.',
    ]);
  });

  it('anything else: an unexpected status, the body unread', () => {
    expect(codeOf(aiErrorFor('anthropic', response(302, 'moved'), ctx))).toEqual([
      'upstream_unexpected_status',
      'Anthropic answered HTTP 302, which this server does not expect here.',
    ]);
  });
});

describe('openAiOutOfCredit', () => {
  const outOfCredit = (error: Record<string, unknown>, status = 429) =>
    response(status, { error: { message: 'You exceeded your current quota.', param: null, ...error } });

  it("ends a 429 whose code or type is insufficient_quota: the account's owner must act", () => {
    for (const error of [
      { type: 'insufficient_quota', code: 'insufficient_quota' },
      { type: 'insufficient_quota', code: null },
      { type: 'requests', code: 'insufficient_quota' },
    ]) {
      const e = openAiOutOfCredit(outOfCredit(error));
      expect(e).toBeInstanceOf(UpstreamError);
      expect(e?.code).toBe('upstream_account_unavailable');
      expect(e?.message).toBe(
        "OpenAI refused the call: the account's quota is used up (insufficient_quota); its owner must " +
          'check the plan and billing at OpenAI. Retrying will not help.',
      );
    }
  });

  it('leaves every other refusal to be waited out: a rate limit, another status, a body without the code', () => {
    expect(openAiOutOfCredit(outOfCredit({ type: 'requests', code: 'rate_limit_exceeded' }))).toBeUndefined();
    expect(openAiOutOfCredit(outOfCredit({ type: 'tokens', code: null }))).toBeUndefined();
    expect(
      openAiOutOfCredit(outOfCredit({ type: 'insufficient_quota', code: 'insufficient_quota' }, 529)),
    ).toBeUndefined();
    expect(openAiOutOfCredit(response(429, 'Too Many Requests'))).toBeUndefined();
    expect(openAiOutOfCredit(response(429, { message: 'insufficient_quota' }))).toBeUndefined();
  });
});
