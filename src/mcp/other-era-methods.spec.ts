import { namingOtherEraMethods, otherEraMethodMessage } from './other-era-methods';

describe('otherEraMethodMessage', () => {
  it.each([
    [
      'resources/subscribe',
      'modern',
      /^Method not found: resources\/subscribe is not in protocol 2026-07-28 .*; use subscriptions\/listen$/,
    ],
    [
      'initialize',
      'modern',
      /^Method not found: initialize is not in protocol 2026-07-28 .*; use server\/discover$/,
    ],
    [
      'ping',
      'modern',
      /^Method not found: ping is not in protocol 2026-07-28 \(only in the 2025-era revisions\)$/,
    ],
    [
      'subscriptions/listen',
      'legacy',
      /^Method not found: subscriptions\/listen is a protocol 2026-07-28 method.*; use resources\/subscribe/,
    ],
    [
      'server/discover',
      'legacy',
      /^Method not found: server\/discover is a protocol 2026-07-28 method.*; use initialize$/,
    ],
  ] as const)('%s asked of the %s era is named, with what to use instead', (method, era, expected) => {
    expect(otherEraMethodMessage(method, era)).toMatch(expected);
  });

  it.each([
    ['tools/call', 'modern'],
    ['tools/call', 'legacy'],
    ['resources/subscribe', 'legacy'],
    ['subscriptions/listen', 'modern'],
    ['no/such-method', 'modern'],
    ['constructor', 'legacy'],
    ['__proto__', 'modern'],
  ] as const)("%s asked of the %s era is not another era's method: no message", (method, era) => {
    expect(otherEraMethodMessage(method, era)).toBeUndefined();
  });
});

describe('namingOtherEraMethods', () => {
  /** A transport as the SDK leaves it after connect: a message handler installed, sends recorded. */
  function connected() {
    const sent: unknown[] = [];
    const received: unknown[] = [];
    const transport = {
      onmessage: (message: unknown) => void received.push(message),
      send: async (message: unknown) => void sent.push(message),
    };
    return { transport, sent, received };
  }
  const notFound = (id: number | string) => ({
    jsonrpc: '2.0',
    id,
    error: { code: -32601, message: 'Method not found' },
  });

  it("names the method in the SDK's bare answer to a request of the other era, and hands every message on", async () => {
    const { transport, sent, received } = connected();
    namingOtherEraMethods(transport, 'modern');
    const request = { jsonrpc: '2.0', id: 7, method: 'resources/subscribe', params: { uri: 'x' } };
    transport.onmessage(request);
    expect(received).toEqual([request]);
    await transport.send(notFound(7));
    expect(sent).toEqual([
      {
        jsonrpc: '2.0',
        id: 7,
        error: { code: -32601, message: otherEraMethodMessage('resources/subscribe', 'modern') },
      },
    ]);
    // Answered: the id is forgotten, so a later bare answer under it (a reused id) is left as it is.
    await transport.send(notFound(7));
    expect(sent[1]).toEqual(notFound(7));
  });

  it('reads every request of a batch, by its own id', async () => {
    const { transport, sent } = connected();
    namingOtherEraMethods(transport, 'legacy');
    transport.onmessage([
      { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
      { jsonrpc: '2.0', id: 'b', method: 'server/discover' },
      { jsonrpc: '2.0', method: 'subscriptions/listen' }, // a notification: never answered
    ]);
    await transport.send(notFound('a'));
    await transport.send(notFound('b'));
    expect(sent).toEqual([
      notFound('a'),
      {
        ...notFound('b'),
        error: { code: -32601, message: otherEraMethodMessage('server/discover', 'legacy') },
      },
    ]);
  });

  it('leaves any other answer to such a request as it is: another code, another message, a result', async () => {
    const { transport, sent } = connected();
    namingOtherEraMethods(transport, 'modern');
    const answers = [
      { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Method not found' } },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found: ours' } },
      { jsonrpc: '2.0', id: 3, result: {} },
    ];
    for (const { id } of answers)
      transport.onmessage({ jsonrpc: '2.0', id, method: 'resources/unsubscribe' });
    for (const answer of answers) await transport.send(answer);
    expect(sent).toEqual(answers);
  });
});
