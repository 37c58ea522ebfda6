import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { MemoryEventStore } from './memory-event-store';

const answer = (id: number, text: string): JSONRPCMessage => ({ jsonrpc: '2.0', id, result: { text } });
const replayed = async (store: MemoryEventStore, after: string) => {
  const seen: number[] = [];
  await store.replayEventsAfter(after, {
    send: async (_id, m) => void seen.push((m as { id: number }).id),
  });
  return seen;
};

describe('MemoryEventStore', () => {
  it('replays the events of a stream after the one named', async () => {
    const store = new MemoryEventStore();
    const first = await store.storeEvent('s1', answer(1, 'a'));
    await store.storeEvent('s2', answer(2, 'b'));
    await store.storeEvent('s1', answer(3, 'c'));
    expect(await replayed(store, first)).toEqual([3]);
    expect(await store.getStreamIdForEventId(first)).toBe('s1');
  });

  it('keeps at most maxBytes of JSON, dropping the oldest events first', async () => {
    const store = new MemoryEventStore(1000, 10_000);
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push(await store.storeEvent('s', answer(i, 'x'.repeat(2_000))));
    expect(store.size.bytes).toBeLessThanOrEqual(10_000);
    expect(store.size.events).toBe(4);
    expect(await store.getStreamIdForEventId(ids[5])).toBeUndefined();
    expect(await replayed(store, ids[6])).toEqual([7, 8, 9]);
  });

  it('sends but does not keep a message larger than maxBytes on its own', async () => {
    const store = new MemoryEventStore(1000, 10_000);
    const small = await store.storeEvent('s', answer(1, 'ok'));
    const huge = await store.storeEvent('s', answer(2, 'x'.repeat(50_000)));
    expect(typeof huge).toBe('string');
    expect(store.size.events).toBe(1);
    expect(await store.getStreamIdForEventId(huge)).toBeUndefined();
    expect(await replayed(store, small)).toEqual([]);
  });

  it('keeps at most maxEvents', async () => {
    const store = new MemoryEventStore(3);
    for (let i = 0; i < 5; i++) await store.storeEvent('s', answer(i, 'x'));
    expect(store.size.events).toBe(3);
  });
});
