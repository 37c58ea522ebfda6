import { Logger } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../../config/config.types';
import type { CredentialsService } from '../../credentials/credentials.service';
import { MasterKeyRing } from '../../credentials/crypto/master-key-ring';
import type { McpCallContext } from '../../mcp/mcp-context';
import type { RegisteredTool } from '../../mcp/mcp-registry.service';
import { MemoryStore } from '../../store/memory.store';
import { ConnectorCredentials } from './connector-credentials.service';
import { ConnectorResultCache, TOOL_CACHE_PREFIX } from './tool-result-cache.service';

const ctx = { principal: { organizationId: 'org-1' }, requestId: 'r' } as McpCallContext;
const tool = (credentials = 'unleashed') =>
  ({
    options: { name: 'read_things', description: 'x', cache: { credentials } },
  }) as unknown as RegisteredTool;

/** The credentials the stand-in vault hands out; the cache under test only digests them. */
let stored: Record<string, string>;
const credentials = { get: async () => stored } as unknown as ConnectorCredentials;

function cacheOver(
  store: MemoryStore,
  maxEntryBytes = 1024 * 1024,
  keyRing = new MasterKeyRing([{ id: 'k1', key: randomBytes(32) }]),
  connector = credentials,
) {
  const config = { mcp: { toolCacheTtlSeconds: 30, toolCacheMaxEntryBytes: maxEntryBytes } } as AppConfig;
  return new ConnectorResultCache(config, keyRing, store, connector, {} as ModuleRef);
}

/** A store whose reads and writes fail, as Redis does while it is down. */
class DownStore extends MemoryStore {
  override async get(): Promise<string | null> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  override async set(): Promise<boolean> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
}

/** A store whose writes wait until `release()`, as a slow Redis makes them. */
class SlowWriteStore extends MemoryStore {
  private readonly gates: (() => void)[] = [];
  private released = false;
  writes = 0;
  override async set(...args: Parameters<MemoryStore['set']>): Promise<boolean> {
    this.writes++;
    if (!this.released) await new Promise<void>((r) => this.gates.push(r));
    return super.set(...args);
  }
  release(): void {
    this.released = true;
    this.gates.splice(0).forEach((r) => r());
  }
}

/** A load that answers when told to. */
function deferred() {
  let resolve!: (v: unknown) => void;
  let reject!: (e: Error) => void;
  const load = jest.fn(
    () =>
      new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      }),
  );
  return { load, resolve: (v: unknown) => resolve(v), reject: (e: Error) => reject(e) };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('ConnectorResultCache', () => {
  const stores: MemoryStore[] = [];
  const memory = () => {
    const s = new MemoryStore();
    stores.push(s);
    return s;
  };
  beforeEach(() => {
    stored = { apiId: 'id-1', apiKey: 'key-1' };
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
  });

  it('answers from the store the second time, with the TTL set, and again from the tool when asked fresh', async () => {
    const store = memory();
    const cache = cacheOver(store);
    const load = jest.fn(async () => ({ items: [1, 2] }));
    // With the answer, its JSON as kept (JSON.stringify's), which the pipeline takes as the text content.
    expect(await cache.through(tool(), ctx, { a: 1 }, false, load)).toEqual({
      value: { items: [1, 2] },
      cache: 'miss',
      json: '{"items":[1,2]}',
    });
    expect(await cache.through(tool(), ctx, { a: 1 }, false, load)).toEqual({
      value: { items: [1, 2] },
      cache: 'hit',
      json: '{"items":[1,2]}',
    });
    expect(load).toHaveBeenCalledTimes(1);
    const [key] = await store.scan(TOOL_CACHE_PREFIX);
    expect(await store.ttl(key)).toBeGreaterThan(29_000);
    expect(await store.ttl(key)).toBeLessThanOrEqual(30_000);
    expect((await cache.through(tool(), ctx, { a: 1 }, true, load)).cache).toBe('fresh');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('misses once the stored credentials change, and under another master key', async () => {
    const store = memory();
    const load = jest.fn(async () => 'text answer');
    await cacheOver(store).through(tool(), ctx, {}, false, load);
    const same = cacheOver(store);
    // Another master key: the old entries are unreachable (and would not open).
    expect((await same.through(tool(), ctx, {}, false, load)).cache).toBe('miss');
    expect((await same.through(tool(), ctx, {}, false, load)).value).toBe('text answer');
    expect((await same.through(tool(), ctx, {}, false, load)).cache).toBe('hit');
    stored = { apiId: 'id-1', apiKey: 'key-2' };
    expect((await same.through(tool(), ctx, {}, false, load)).cache).toBe('miss');
  });

  it('hands the tool the credentials its key was made of, read once for the call', async () => {
    // A vault whose every read gives other credentials, as if an admin stored anew between two reads.
    let reads = 0;
    const vault = {
      getDecrypted: async () => ({ apiId: 'id-1', apiKey: `key-${++reads}` }),
    } as unknown as CredentialsService;
    const connector = new ConnectorCredentials(vault);
    const cache = cacheOver(memory(), undefined, undefined, connector);
    const call = { ...ctx } as McpCallContext;
    const load = async () => ({ usedKey: (await connector.get(call, 'unleashed')).apiKey });
    expect(await cache.through(tool(), call, {}, false, load)).toEqual({
      value: { usedKey: 'key-1' },
      cache: 'miss',
      json: '{"usedKey":"key-1"}',
    });
    expect(reads).toBe(1);
  });

  it("never answers one organisation from another's entry, even with the same tool, arguments and credentials", async () => {
    const store = memory();
    const cache = cacheOver(store);
    const other = { ...ctx, principal: { organizationId: 'org-2' } } as McpCallContext;
    await cache.through(tool(), ctx, { q: 1 }, false, async () => ({ of: 'org-1' }));
    const answer = await cache.through(tool(), other, { q: 1 }, false, async () => ({ of: 'org-2' }));
    expect(answer).toMatchObject({ value: { of: 'org-2' }, cache: 'miss' });
    expect((await cache.through(tool(), ctx, { q: 1 }, false, async () => 'not asked')).value).toEqual({
      of: 'org-1',
    });
  });

  it("never answers one tool from another's entry for the same arguments", async () => {
    const cache = cacheOver(memory());
    const contacts = {
      options: { name: 'read_other_things', description: 'x', cache: { credentials: 'unleashed' } },
    } as unknown as RegisteredTool;
    await cache.through(tool(), ctx, { page: 1 }, false, async () => ({ things: [1] }));
    const answer = await cache.through(contacts, ctx, { page: 1 }, false, async () => ({ others: [2] }));
    expect(answer).toMatchObject({ value: { others: [2] }, cache: 'miss' });
  });

  it('answers with, and keeps nothing of, a value that is no JSON object or string', async () => {
    const store = memory();
    const cache = cacheOver(store);
    expect(await cache.through(tool(), ctx, { n: 1 }, false, async () => undefined)).toEqual({
      value: undefined,
      cache: 'miss',
      json: undefined,
    });
    expect((await cache.through(tool(), ctx, { n: 2 }, false, async () => Number.NaN)).value).toBeNaN();
    expect(await store.scan(TOOL_CACHE_PREFIX)).toHaveLength(0);
  });

  it('offers itself to the tool pipeline only when MCP_TOOL_CACHE_TTL is above 0', () => {
    const registerWith = (ttlSeconds: number) => {
      const pipeline = { useResultCache: jest.fn() };
      const moduleRef = { get: () => pipeline } as unknown as ModuleRef;
      const config = { mcp: { toolCacheTtlSeconds: ttlSeconds, toolCacheMaxEntryBytes: 1024 } } as AppConfig;
      const keyRing = new MasterKeyRing([{ id: 'k1', key: randomBytes(32) }]);
      new ConnectorResultCache(config, keyRing, memory(), credentials, moduleRef).onModuleInit();
      return pipeline.useResultCache.mock.calls.length;
    };
    expect(registerWith(0)).toBe(0);
    expect(registerWith(30)).toBe(1);
  });

  it('answers from the tool when the store is down: reads and writes fail, the call does not', async () => {
    const cache = cacheOver(new DownStore());
    const load = jest.fn(async () => ({ ok: true }));
    const answer = { value: { ok: true }, cache: 'miss', json: '{"ok":true}' };
    expect(await cache.through(tool(), ctx, {}, false, load)).toEqual(answer);
    expect(await cache.through(tool(), ctx, {}, false, load)).toEqual(answer);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('keeps no answer larger than the bound, and no tool-reported error', async () => {
    const store = memory();
    const cache = cacheOver(store, 2048);
    await cache.through(tool(), ctx, { big: true }, false, async () => ({ text: 'x'.repeat(2048) }));
    await cache.through(tool(), ctx, { small: true }, false, async () => ({ text: 'x'.repeat(100) }));
    await cache.through(tool(), ctx, { error: true }, false, async () => ({ isError: true, content: [] }));
    expect(await store.scan(TOOL_CACHE_PREFIX)).toHaveLength(1);
  });

  it('does not cache a tool whose credentials are not a stored service', async () => {
    const store = memory();
    const load = jest.fn(async () => ({ ok: 1 }));
    expect((await cacheOver(store).through(tool('nothing'), ctx, {}, false, load)).cache).toBe('uncached');
    expect(await store.scan(TOOL_CACHE_PREFIX)).toHaveLength(0);
  });

  it('names one entry for the same arguments in any order, and two for strings that differ in a lone surrogate', async () => {
    const store = memory();
    const cache = cacheOver(store);
    const load = jest.fn(async () => ({ ok: 1 }));
    await cache.through(tool(), ctx, { a: 1, b: { c: 2, d: 3 } }, false, load);
    expect((await cache.through(tool(), ctx, { b: { d: 3, c: 2 }, a: 1 }, false, load)).cache).toBe('hit');
    await cache.through(tool(), ctx, { q: 'x\ud800' }, false, load);
    expect((await cache.through(tool(), ctx, { q: 'x\ufffd' }, false, load)).cache).toBe('miss');
    expect(await store.scan(TOOL_CACHE_PREFIX)).toHaveLength(3);
  });

  it('lets identical calls made while the first is under way share its answer, and not its failure', async () => {
    const store = memory();
    const cache = cacheOver(store);
    let release!: (v: unknown) => void;
    let fail!: (e: Error) => void;
    const first = jest.fn(
      () =>
        new Promise<unknown>((resolve, reject) => {
          release = resolve;
          fail = reject;
        }),
    );
    const other = jest.fn(async () => ({ from: 'its own call' }));
    const leading = cache.through(tool(), ctx, { q: 1 }, false, first);
    await new Promise((r) => setImmediate(r));
    const joining = cache.through(tool(), ctx, { q: 1 }, false, other);
    await new Promise((r) => setImmediate(r));
    release({ from: 'the first call' });
    expect(await leading).toEqual({
      value: { from: 'the first call' },
      cache: 'miss',
      json: '{"from":"the first call"}',
    });
    expect(await joining).toEqual({ value: { from: 'the first call' }, cache: 'joined' });
    expect(other).not.toHaveBeenCalled();

    // The first one fails (its client cancelled, say): the one that joined it asks for itself.
    const failing = cache.through(tool(), ctx, { q: 2 }, false, first);
    await new Promise((r) => setImmediate(r));
    const after = cache.through(tool(), ctx, { q: 2 }, false, other);
    await new Promise((r) => setImmediate(r));
    fail(new Error('cancelled'));
    await expect(failing).rejects.toThrow('cancelled');
    expect(await after).toEqual({
      value: { from: 'its own call' },
      cache: 'miss',
      json: '{"from":"its own call"}',
    });
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('calls that joined a leader that failed ask again once between them, not once each', async () => {
    const cache = cacheOver(memory());
    const leader = deferred();
    const again = jest.fn(async () => ({ from: 'asked again' }));
    const leading = cache.through(tool(), ctx, { q: 3 }, false, leader.load);
    await turn();
    const joining = [1, 2, 3].map(() => cache.through(tool(), ctx, { q: 3 }, false, again));
    await turn();
    leader.reject(new Error('cancelled'));
    await expect(leading).rejects.toThrow('cancelled');
    const results = await Promise.all(joining);
    expect(again).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.value)).toEqual(Array(3).fill({ from: 'asked again' }));
    expect(results.map((r) => r.cache).sort()).toEqual(['joined', 'joined', 'miss']);
  });

  it('when the call asked again fails too, those that joined it ask for themselves at once, not one after another', async () => {
    const cache = cacheOver(memory());
    const leader = deferred();
    const asked: ((e: Error) => void)[] = [];
    const again = jest.fn(() => new Promise<unknown>((_res, rej) => asked.push(rej)));
    const leading = cache.through(tool(), ctx, { q: 6 }, false, leader.load);
    await turn();
    const joining = [1, 2, 3, 4].map(() =>
      cache.through(tool(), ctx, { q: 6 }, false, again).catch((e: Error) => e.message),
    );
    await turn();
    leader.reject(new Error('upstream down'));
    await expect(leading).rejects.toThrow('upstream down');
    await turn();
    expect(again).toHaveBeenCalledTimes(1);
    // The upstream is still down: the one that asked again fails, and the three left each ask now,
    // rather than each waiting for the one before it to fail.
    asked[0](new Error('upstream down'));
    await turn();
    expect(again).toHaveBeenCalledTimes(4);
    asked.slice(1).forEach((fail) => fail(new Error('upstream down')));
    expect(await Promise.all(joining)).toEqual(Array(4).fill('upstream down'));
  });

  it('an identical call arriving while the answer is being stored joins it rather than ask again', async () => {
    const store = new SlowWriteStore();
    stores.push(store);
    const cache = cacheOver(store);
    const first = deferred();
    const second = jest.fn(async () => ({ from: 'a second request' }));
    const leading = cache.through(tool(), ctx, { q: 4 }, false, first.load);
    await turn();
    first.resolve({ from: 'the first request' });
    while (store.writes === 0) await turn();
    // The answer is on its way to the store, not there yet.
    const arriving = cache.through(tool(), ctx, { q: 4 }, false, second);
    await turn();
    store.release();
    expect(await leading).toEqual({
      value: { from: 'the first request' },
      cache: 'miss',
      json: '{"from":"the first request"}',
    });
    expect(await arriving).toEqual({ value: { from: 'the first request' }, cache: 'joined' });
    expect(second).not.toHaveBeenCalled();
  });

  it('an older answer still on its way does not overwrite the one a fresh call got since', async () => {
    const cache = cacheOver(memory());
    const old = deferred();
    const leading = cache.through(tool(), ctx, { q: 5 }, false, old.load);
    await turn();
    // The data changed upstream meanwhile; the caller asks fresh and gets the new answer first.
    const fresh = await cache.through(tool(), ctx, { q: 5 }, true, async () => ({ data: 'new' }));
    expect(fresh).toEqual({ value: { data: 'new' }, cache: 'fresh', json: '{"data":"new"}' });
    old.resolve({ data: 'old' });
    // The first call answers with what it fetched (its text made by the pipeline), but the cache keeps the newer answer.
    expect(await leading).toStrictEqual({ value: { data: 'old' }, cache: 'miss', json: undefined });
    const next = await cache.through(tool(), ctx, { q: 5 }, false, async () => ({ data: 'not asked' }));
    expect(next).toEqual({ value: { data: 'new' }, cache: 'hit', json: '{"data":"new"}' });
  });
});
