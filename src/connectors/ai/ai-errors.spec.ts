import type { UpstreamResponse } from '../http/upstream-http.service';
import { UpstreamError } from '../http/upstream.errors';
import { aiErrorFor, MAX_DETAIL_CHARS, upstreamErrorMessage } from './ai-errors';

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
