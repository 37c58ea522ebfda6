import type { UpstreamHttp, UpstreamRequest, UpstreamResponse } from '../http/upstream-http.service';
import { cannedUpstreamResponse } from '../../../test/support/canned-upstream-response';
import { UpstreamError } from '../http/upstream.errors';
import { CompletionCall, requestCompletion } from './ai-completion';
import type { Completion } from './ai.schemas';

const KEY = 'sk-ant-completion-key-0001';
const COMPLETION: Completion = {
  model: 'claude-x',
  text: 'Four.',
  stopReason: 'end_turn',
  usage: { inputTokens: 1, outputTokens: 2 },
};

/** An UpstreamHttp that records what it is asked to send and answers `status` with `body`. */
function upstream(status: number, body: unknown) {
  const sent: UpstreamRequest[] = [];
  const http = {
    send: (req: UpstreamRequest): Promise<UpstreamResponse> => {
      sent.push(req);
      return Promise.resolve(cannedUpstreamResponse(req, status, body));
    },
  } as unknown as UpstreamHttp;
  return { http, sent };
}

const call = (signal = new AbortController().signal): CompletionCall => ({
  service: 'anthropic',
  url: new URL('http://127.0.0.1:1/v1/messages'),
  headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
  body: { model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] },
  signal,
  timeoutMs: 123_456,
  model: 'claude-x',
  apiKey: KEY,
});

describe('requestCompletion', () => {
  it('POSTs the JSON body once with JSON content headers, the caller signal and the completion timeout', async () => {
    const { http, sent } = upstream(200, { any: 'thing' });
    const signal = new AbortController().signal;
    const seen: unknown[] = [];
    const result = await requestCompletion(http, call(signal), (json) => (seen.push(json), COMPLETION));
    expect(result).toBe(COMPLETION);
    expect(seen).toEqual([{ any: 'thing' }]);
    expect(sent).toHaveLength(1);
    const req = sent[0];
    expect(req).toEqual({
      service: 'anthropic',
      method: 'POST',
      url: new URL('http://127.0.0.1:1/v1/messages'),
      headers: {
        'x-api-key': KEY,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(call().body),
      // A completion that may have run is not sent again.
      idempotent: false,
      signal: expect.any(AbortSignal),
      timeoutMs: 123_456,
    });
    expect(req.signal).toBe(signal);
  });

  it('a 2xx the parser cannot read is a bad response, naming nothing of the body', async () => {
    const { http } = upstream(200, { secret: 'upstream-body-text' });
    const err = await requestCompletion(http, call(), () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('upstream_bad_response');
    expect((err as UpstreamError).message).not.toContain('upstream-body-text');
  });

  it("a 2xx that is not JSON is the upstream client's bad response, not a fault of ours", async () => {
    const { http } = upstream(200, '<html>gateway</html>');
    const err = await requestCompletion(http, call(), () => COMPLETION).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).message).toBe(
      'Anthropic answered something this server cannot read (HTTP 200 with a body that is not JSON); retrying may help.',
    );
  });

  it('any status outside 200-299, a 3xx too, is the tool error for it and never parsed', async () => {
    for (const [status, code] of [
      [302, 'upstream_unexpected_status'],
      [304, 'upstream_unexpected_status'],
      [401, 'upstream_rejected_credentials'],
      [404, 'upstream_not_found'],
    ] as const) {
      const { http } = upstream(status, '');
      let parsed = false;
      const err = await requestCompletion(http, call(), () => ((parsed = true), COMPLETION)).catch(
        (e: unknown) => e,
      );
      expect([status, (err as UpstreamError).code, parsed]).toEqual([status, code, false]);
    }
  });

  it('a refused request is told with the upstream message, the stored key scrubbed, and the model named on 404', async () => {
    const refused = upstream(400, { type: 'error', error: { type: 'x', message: `key ${KEY} is wrong` } });
    const err = await requestCompletion(refused.http, call(), () => COMPLETION).catch((e: unknown) => e);
    expect((err as UpstreamError).message).toBe('Anthropic refused the request: key [redacted] is wrong');
    const missing = upstream(404, {});
    const notFound = await requestCompletion(missing.http, call(), () => COMPLETION).catch((e: unknown) => e);
    expect((notFound as UpstreamError).message).toContain('"claude-x"');
  });
});
