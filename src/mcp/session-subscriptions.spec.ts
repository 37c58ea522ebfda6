import { ProtocolError } from '@modelcontextprotocol/server';
import type { AppConfig } from '../config/config.types';
import type { KeyValueStore } from '../store/key-value-store';
import { MemoryStore } from '../store/memory.store';
import {
  MAX_SUBSCRIBED_URI_LENGTH,
  MAX_SUBSCRIPTIONS_PER_SESSION,
  SESSION_SUBSCRIPTIONS_PREFIX,
  SessionSubscriptions,
} from './session-subscriptions';

const CONFIG = { mcp: { sessionTtlSeconds: 60 } } as AppConfig;

describe('SessionSubscriptions', () => {
  let store: MemoryStore;
  let subs: SessionSubscriptions;
  beforeEach(() => {
    store = new MemoryStore({ sweepIntervalMs: 1000 });
    subs = new SessionSubscriptions(store, CONFIG);
  });
  afterEach(() => store.close());

  it("keeps each session's URIs once, under its own key with the session's TTL", async () => {
    await subs.add('s1', 'sentia://connectors');
    await subs.add('s1', 'sentia://connectors');
    await subs.add('s2', 'test://template/1/data');
    expect(await subs.of('s1')).toEqual(['sentia://connectors']);
    expect(await subs.of('s2')).toEqual(['test://template/1/data']);
    const ttl = await store.ttl(SESSION_SUBSCRIPTIONS_PREFIX + 's1');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('changes made at once (subscribe and unsubscribe calls served together, on any instances) all land', async () => {
    await subs.add('s1', 'a://0');
    // Each reads the list, then writes it: unlocked, the last write would drop the others' changes.
    await Promise.all([
      subs.add('s1', 'a://1'),
      subs.add('s1', 'a://2'),
      new SessionSubscriptions(store, CONFIG).add('s1', 'a://3'),
      subs.remove('s1', 'a://0'),
    ]);
    expect((await subs.of('s1')).sort()).toEqual(['a://1', 'a://2', 'a://3']);
  });

  it('a change held up past its wait by one in progress (an instance stuck mid-change) is refused, changing nothing', async () => {
    const stuck = await store.tryLock(SESSION_SUBSCRIPTIONS_PREFIX + 's1:lock', 60_000);
    expect(stuck).not.toBeNull();
    const refused = await subs.add('s1', 'a://1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as Error).message).toMatch(/Session store busy: .* retry shortly/);
    expect(await subs.of('s1')).toEqual([]);
    await stuck!.release();
    await subs.add('s1', 'a://1');
    expect(await subs.of('s1')).toEqual(['a://1']);
  });

  it('removes one URI, and the key with the last one; drop removes them all', async () => {
    await subs.add('s1', 'a://1');
    await subs.add('s1', 'a://2');
    await subs.remove('s1', 'a://1');
    await subs.remove('s1', 'a://never');
    expect(await subs.of('s1')).toEqual(['a://2']);
    await subs.remove('s1', 'a://2');
    expect(await store.get(SESSION_SUBSCRIPTIONS_PREFIX + 's1')).toBeNull();
    await subs.add('s1', 'a://3');
    await subs.drop('s1');
    expect(await subs.of('s1')).toEqual([]);
  });

  it(`refuses a ${MAX_SUBSCRIPTIONS_PER_SESSION + 1}th URI and one over ${MAX_SUBSCRIBED_URI_LENGTH} characters, saying so`, async () => {
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_SESSION; i++) await subs.add('s1', `a://${i}`);
    await subs.add('s1', 'a://0'); // one it holds: no change, no refusal
    const over = subs.add('s1', 'a://one-more');
    await expect(over).rejects.toBeInstanceOf(ProtocolError);
    await expect(over).rejects.toThrow(/at most 16; unsubscribe from one first/);
    await expect(subs.add('s2', `a://${'x'.repeat(MAX_SUBSCRIBED_URI_LENGTH)}`)).rejects.toThrow(
      /at most 1024 characters/,
    );
    expect(await subs.of('s1')).toHaveLength(MAX_SUBSCRIPTIONS_PER_SESSION);
    expect(await subs.of('s2')).toEqual([]);
    // At the limit exactly it is taken; one character more is not.
    const longest = `a://${'x'.repeat(MAX_SUBSCRIBED_URI_LENGTH - 4)}`;
    await expect(subs.add('s2', `${longest}y`)).rejects.toThrow(/at most 1024 characters/);
    await subs.add('s2', longest);
    expect(await subs.of('s2')).toEqual([longest]);
  });

  it('answers a store that cannot be reached as unavailable, without its error text', async () => {
    const unreachable = { get: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.7:6379')) };
    const broken = new SessionSubscriptions(unreachable as unknown as KeyValueStore, CONFIG);
    const refused = broken.add('s1', 'sentia://connectors');
    await expect(refused).rejects.toThrow(/^Session store temporarily unavailable/);
    await expect(refused).rejects.not.toThrow(/ECONNREFUSED/);
  });
});
