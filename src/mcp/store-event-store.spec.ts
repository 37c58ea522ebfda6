import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { MemoryStore } from '../store/memory.store';
import { MAX_STORED_EVENT_BYTES, parseEventId, StoreEventStore } from './store-event-store';

const answer = (id: number, text: string): JSONRPCMessage => ({ jsonrpc: '2.0', id, result: { text } });
const replayed = async (events: StoreEventStore, after: string) => {
  const seen: number[] = [];
  await events.replayEventsAfter(after, {
    send: async (_id, m) => void seen.push((m as { id: number }).id),
  });
  return seen;
};

describe('StoreEventStore', () => {
  it('numbers each stream from 1 and replays the events of a stream after the one named', async () => {
    const events = new StoreEventStore(new MemoryStore(), 'session-1');
    const priming = await events.storeEvent('s1', {} as JSONRPCMessage);
    const first = await events.storeEvent('s1', answer(1, 'a'));
    await events.storeEvent('s2', answer(2, 'b'));
    await events.storeEvent('s1', answer(3, 'c'));
    expect([priming, first]).toEqual(['s1_1', 's1_2']);
    expect(await replayed(events, first)).toEqual([3]);
    // The priming event (no message) is not replayed as one.
    expect(await replayed(events, priming)).toEqual([1, 3]);
    expect(await events.getStreamIdForEventId(first)).toBe('s1');
  });

  it("keeps a session's events apart from another's: its ids name nothing there", async () => {
    const store = new MemoryStore();
    const mine = new StoreEventStore(store, 'session-1');
    const theirs = new StoreEventStore(store, 'session-2');
    const id = await mine.storeEvent('s1', answer(1, 'secret'));
    await mine.storeEvent('s1', answer(2, 'secret too'));
    expect(await theirs.getStreamIdForEventId(id)).toBeUndefined();
    expect(await replayed(theirs, id)).toEqual([]);
    expect(await mine.getStreamIdForEventId('s1_3')).toBeUndefined(); // not handed out yet
  });

  it('sends a message too large to keep, without keeping it', async () => {
    const events = new StoreEventStore(new MemoryStore(), 'session-1');
    const first = await events.storeEvent('s', answer(1, 'a'));
    const big = await events.storeEvent('s', answer(2, 'x'.repeat(MAX_STORED_EVENT_BYTES)));
    await events.storeEvent('s', answer(3, 'c'));
    expect(big).toBe('s_2');
    expect(await replayed(events, first)).toEqual([3]);
  });

  it('sends an event a follower read too early (counted, not stored yet) once it lands', async () => {
    const store = new MemoryStore();
    const events = new StoreEventStore(store, 'session-1');
    const first = await events.storeEvent('s', answer(1, 'a'));
    let land!: () => void;
    const realSet = store.set.bind(store);
    jest.spyOn(store, 'set').mockImplementationOnce(async (...args) => {
      await new Promise<void>((r) => (land = r));
      return realSet(...args);
    });
    const storing = events.storeEvent('s', answer(2, 'the answer'));
    await new Promise((r) => setImmediate(r)); // its position is counted; the event is not written
    const sent: number[] = [];
    const send = async (_id: string, m: JSONRPCMessage) => void sent.push((m as { id: number }).id);
    const missing = new Set<number>();
    const next = await events.sendFrom('s', 2, send, missing);
    expect([next, [...missing], sent]).toEqual([3, [2], []]);
    land();
    await storing;
    expect(await events.sendFrom('s', next, send, missing)).toBe(3);
    expect([sent, [...missing]]).toEqual([[2], []]);
    expect(await replayed(events, first)).toEqual([2]);
  });

  it('tells a follower each time an event is stored on its stream', async () => {
    const store = new MemoryStore();
    const events = new StoreEventStore(store, 'session-1');
    let told = 0;
    const unsubscribe = await events.announcements('s', () => void told++);
    await events.storeEvent('s', answer(1, 'a'));
    await events.storeEvent('other', answer(2, 'b'));
    await new Promise((r) => setImmediate(r));
    expect(told).toBe(1);
    await unsubscribe();
  });

  it('never throws into the transport when the store does not answer: the event is sent, not kept', async () => {
    const store = new MemoryStore();
    const events = new StoreEventStore(store, 'session-1');
    jest.spyOn(store, 'incr').mockRejectedValueOnce(new Error('store down'));
    expect(await events.storeEvent('s', answer(1, 'a'))).toBe('s_0');
    jest.spyOn(store, 'set').mockRejectedValueOnce(new Error('store down'));
    expect(await events.storeEvent('s', answer(2, 'b'))).toBe('s_1');
    expect(await events.getStreamIdForEventId('s_0')).toBeUndefined();
    expect(await replayed(events, 's_1')).toEqual([]);
  });

  it('parses <stream>_<n> ids, stream ids with underscores included, and refuses anything else', () => {
    expect(parseEventId('_GET_stream_12')).toEqual({ streamId: '_GET_stream', n: 12 });
    expect(parseEventId('3f1c_1')).toEqual({ streamId: '3f1c', n: 1 });
    for (const bad of [
      '',
      '_1',
      's_0',
      's_01',
      's_-1',
      's_1.5',
      's_',
      'nounderscore',
      `s_${'9'.repeat(17)}`,
      `${'a'.repeat(200)}_1`,
    ])
      expect([bad, parseEventId(bad)]).toEqual([bad, undefined]);
  });
});
