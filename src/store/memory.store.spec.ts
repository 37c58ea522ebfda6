import { MemoryStore } from './memory.store';

// The shared behaviour is in test/integration/store.contract.int-spec.ts; this
// covers what only the in-process store has: its sweep timer.
describe('MemoryStore', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sweeps expired keys nobody reads', async () => {
    jest.useFakeTimers();
    const store = new MemoryStore({ sweepIntervalMs: 1000 });
    await store.set('gone', 'v', { ttlMs: 500 });
    await store.set('kept', 'v', { ttlMs: 5000 });
    await store.set('forever', 'v');
    expect(store.entryCount).toBe(3);
    jest.advanceTimersByTime(1000);
    expect(store.entryCount).toBe(2);
    expect(await store.get('kept')).toBe('v');
    await store.close();
  });

  it('close() stops its timer and drops data and subscriptions', async () => {
    jest.useFakeTimers();
    const store = new MemoryStore({ sweepIntervalMs: 1000 });
    const received: string[] = [];
    await store.subscribe('ch', (m) => received.push(m));
    await store.set('k', 'v');
    expect(jest.getTimerCount()).toBe(1);
    await store.close();
    expect(jest.getTimerCount()).toBe(0);
    await store.publish('ch', 'late');
    await Promise.resolve();
    expect(received).toEqual([]);
    expect(await store.get('k')).toBeNull();
  });
});
