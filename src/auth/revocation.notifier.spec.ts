import { Logger } from '@nestjs/common';
import { RequestContext } from '../observability/request-context';
import { MemoryStore } from '../store/memory.store';
import { REPUBLISH_INTERVAL_MS, REVOCATIONS_CHANNEL, RevocationNotifier } from './revocation.notifier';

/** A memory store whose publish can be made to fail, like a Redis out of reach. */
class FlakyPublishStore extends MemoryStore {
  down = false;
  override async publish(channel: string, message: string): Promise<void> {
    if (this.down) throw new Error('Connection is closed.');
    return super.publish(channel, message);
  }
}

describe('RevocationNotifier', () => {
  let store: FlakyPublishStore;
  let notifier: RevocationNotifier;
  const received: string[] = [];

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    store = new FlakyPublishStore();
    notifier = new RevocationNotifier(store);
    received.length = 0;
    await store.subscribe(REVOCATIONS_CHANNEL, (m) => void received.push(JSON.parse(m).keyId));
  });
  afterEach(async () => {
    notifier.onModuleDestroy();
    await store.close();
    jest.restoreAllMocks();
  });

  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const revoke = (keyId: string) => notifier.announce({ keyId, revokedAt: new Date() });

  it('tells this process at once, and publishes again every interval, in order, until the store takes it', async () => {
    const local: string[] = [];
    notifier.onRevoked((e) => void local.push(e.keyId));
    jest.useFakeTimers();
    try {
      store.down = true;
      await revoke('key_a');
      await revoke('key_b');
      expect(local).toEqual(['key_a', 'key_b']);
      expect(notifier.pending).toBe(2);

      await jest.advanceTimersByTimeAsync(REPUBLISH_INTERVAL_MS * 3);
      expect(notifier.pending).toBe(2); // still refused
      store.down = false;
      await jest.advanceTimersByTimeAsync(REPUBLISH_INTERVAL_MS);
    } finally {
      jest.useRealTimers();
    }
    await settle();
    expect(notifier.pending).toBe(0);
    expect(received).toEqual(['key_a', 'key_b']);
  });

  it('publishes once when the store takes it the first time', async () => {
    await revoke('key_c');
    await settle();
    expect(received).toEqual(['key_c']);
    expect(notifier.pending).toBe(0);
  });

  it('at shutdown tries once more, and names in a warning what it still could not publish', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    store.down = true;
    await revoke('key_d');
    await revoke('key_e');
    store.down = false; // back just before the end: the last try gets them out
    await notifier.onModuleDestroy();
    await settle();
    expect(received).toEqual(['key_d', 'key_e']);
    expect(notifier.pending).toBe(0);

    const other = new RevocationNotifier(store);
    store.down = true;
    await other.announce({ keyId: 'key_f', revokedAt: new Date() });
    warn.mockClear();
    await other.onModuleDestroy();
    expect(other.pending).toBe(1);
    expect(warn.mock.calls.map(([m]) => m)).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('1 revocation(s) could not be published before stopping'),
        revokedKeys: ['key_f'],
      }),
    ]);
  });

  it("retries outside the context of the request that revoked the key (its lines carry no request's id)", async () => {
    const seen: Array<string | undefined> = [];
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => void seen.push(RequestContext.requestId()));
    // Real timers: fake ones run callbacks outside any context whatever the code does.
    store.down = true;
    await RequestContext.run({ requestId: 'req-revoking' }, () => revoke('key_g'));
    store.down = false;
    await new Promise((resolve) => setTimeout(resolve, REPUBLISH_INTERVAL_MS + 200));
    expect(notifier.pending).toBe(0);
    expect(seen).toEqual([undefined]); // "published now", from the retry
  });
});
