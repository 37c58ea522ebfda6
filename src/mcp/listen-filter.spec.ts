import { narrowListen } from './listen-filter';

const listen = (notifications: unknown) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'subscriptions/listen',
  params: { _meta: { client: 'x' }, notifications },
});
const readable = (uri: string) => uri.startsWith('ok://');

describe('narrowListen', () => {
  it('keeps the readable URIs and every other field, on a copy; the caller body is unchanged', () => {
    const body = listen({ toolsListChanged: true, resourceSubscriptions: ['ok://a', 'no://b', 'ok://a'] });
    const before = structuredClone(body);
    const out = narrowListen(body, readable);
    expect(out).toEqual({
      ok: true,
      body: listen({ toolsListChanged: true, resourceSubscriptions: ['ok://a'] }),
    });
    expect(body).toEqual(before);
  });

  it('drops the list when nothing in it is readable, keeping the rest of the filter', () => {
    expect(
      narrowListen(listen({ promptsListChanged: true, resourceSubscriptions: ['no://b'] }), readable),
    ).toEqual({
      ok: true,
      body: listen({ promptsListChanged: true }),
    });
  });

  it('hands a body without a list of strings on as it came (the SDK answers a malformed filter)', () => {
    for (const body of [
      listen({ resourceSubscriptions: [1] }),
      listen(undefined),
      { method: 'ping' },
      null,
    ]) {
      expect(narrowListen(body, readable)).toEqual({ ok: true, body });
    }
  });

  it('counts a repeated URI once against the limit of 16', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `ok://${i}`);
    expect(narrowListen(listen({ resourceSubscriptions: [...sixteen, 'ok://0'] }), readable).ok).toBe(true);
    expect(narrowListen(listen({ resourceSubscriptions: [...sixteen, 'ok://16'] }), readable)).toEqual({
      ok: false,
      message: 'Invalid params: resourceSubscriptions names 17 URIs; a listen stream takes at most 16',
    });
  });

  it('refuses a URI longer than 1,024 characters, readable or not', () => {
    expect(
      narrowListen(listen({ resourceSubscriptions: [`ok://${'x'.repeat(1020)}`] }), readable),
    ).toMatchObject({
      ok: false,
      message: 'Invalid params: a subscribed URI is at most 1024 characters',
    });
    expect(narrowListen(listen({ resourceSubscriptions: [`ok://${'x'.repeat(1019)}`] }), readable).ok).toBe(
      true,
    );
  });
});
