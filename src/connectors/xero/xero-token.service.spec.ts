import type { AppConfig } from '../../config/config.types';
import type { XeroCredentials } from '../../credentials/credential-schemas';
import type { CredentialsService } from '../../credentials/credentials.service';
import type { ToolContext } from '../../mcp/mcp-context';
import type { KeyValueStore, StoreLock } from '../../store/key-value-store';
import type { ConnectorCredentials } from '../http/connector-credentials.service';
import type { UpstreamHttp, UpstreamRequest } from '../http/upstream-http.service';
import { MemoryStore } from '../../store/memory.store';
import { XeroTokens } from './xero-token.service';

describe('XeroTokens refresh lock', () => {
  const ctx = { principal: { organizationId: 'org-1' } } as unknown as ToolContext;
  const stored: XeroCredentials = {
    grantType: 'authorization_code',
    clientId: 'client-1',
    clientSecret: 'secret-1',
    refreshToken: 'rt-1',
  };
  let now = 1_700_000_000_000;

  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it.each([
    { maxRetries: 2, maxRetryWaitMs: 10_000 },
    { maxRetries: 5, maxRetryWaitMs: 60_000 },
    { maxRetries: 0, maxRetryWaitMs: 0 },
  ])(
    'is still held when the rotated token is stored after the slowest token exchange UpstreamHttp allows (%o)',
    async (connectors) => {
      // Each attempt of the token request may take its whole 10 s limit, and a 408/429/529
      // is sent again after waiting up to UPSTREAM_MAX_RETRY_WAIT_MS.
      const slowest =
        (connectors.maxRetries + 1) * 10_000 + connectors.maxRetries * connectors.maxRetryWaitMs;
      let lockedUntil = 0;
      const store = {
        tryLock: (key: string, ttlMs: number): Promise<StoreLock> => {
          lockedUntil = now + ttlMs;
          return Promise.resolve({ key, release: () => Promise.resolve(true) });
        },
        get: () => Promise.resolve(null),
        set: () => Promise.resolve(true),
      } as unknown as KeyValueStore;
      const http = {
        send: (req: UpstreamRequest) => {
          expect(req.timeoutMs).toBe(10_000);
          now += slowest;
          const text = JSON.stringify({ access_token: 'at-2', expires_in: 1800, refresh_token: 'rt-2' });
          return Promise.resolve({ status: 200, headers: new Headers(), text, json: () => JSON.parse(text) });
        },
      } as unknown as UpstreamHttp;
      const heldWhenStored: boolean[] = [];
      const credentials = {
        replaceIfUnchanged: () => {
          heldWhenStored.push(now < lockedUntil);
          return Promise.resolve('replaced');
        },
      } as unknown as CredentialsService;
      const connectorCredentials = {
        getForUpdate: () => Promise.resolve({ value: stored, revision: {} }),
      } as unknown as ConnectorCredentials;
      const config = {
        connectors: { ...connectors, baseUrls: { xeroIdentity: 'http://xero.invalid' } },
      } as unknown as AppConfig;

      const tokens = new XeroTokens(config, http, connectorCredentials, credentials, store);
      const token = await tokens.get(ctx, stored);

      expect(token.accessToken).toBe('at-2');
      expect(heldWhenStored).toEqual([true]);
    },
  );
});

describe('XeroTokens when the credentials are replaced during a refresh', () => {
  const ctx = { principal: { organizationId: 'org-1' } } as unknown as ToolContext;
  const app = (n: number): XeroCredentials => ({
    grantType: 'authorization_code',
    clientId: `client-${n}`,
    clientSecret: `secret-${n}`,
    refreshToken: `rt-${n}`,
  });

  /**
   * The stored record is `records[i]` at the i-th read; each read's revision is its index, and the
   * compare-and-set succeeds only when no later record was stored meanwhile (the fake `replacedAfterRead`).
   */
  function rig(records: XeroCredentials[], replacedAfterRead: boolean[]) {
    let reads = 0;
    const presented: string[] = [];
    const writes: { revision: unknown; value: XeroCredentials & { refreshToken?: string } }[] = [];
    const store = new MemoryStore();
    const http = {
      send: (req: UpstreamRequest) => {
        const rt = new URLSearchParams(req.body as string).get('refresh_token')!;
        presented.push(rt);
        const text = JSON.stringify({
          access_token: `at-from-${rt}`,
          expires_in: 1800,
          refresh_token: `${rt}'`,
        });
        return Promise.resolve({ status: 200, headers: new Headers(), text, json: () => JSON.parse(text) });
      },
    } as unknown as UpstreamHttp;
    const connectorCredentials = {
      getForUpdate: () => {
        const i = reads++;
        return Promise.resolve({ value: records[i], revision: { read: i } });
      },
    } as unknown as ConnectorCredentials;
    const credentials = {
      replaceIfUnchanged: (_org: string, _s: string, revision: { read: number }, value: XeroCredentials) => {
        writes.push({ revision, value });
        return Promise.resolve(replacedAfterRead[revision.read] ? 'changed' : 'replaced');
      },
    } as unknown as CredentialsService;
    const config = {
      connectors: { maxRetries: 0, maxRetryWaitMs: 0, baseUrls: { xeroIdentity: 'http://xero.invalid' } },
    } as unknown as AppConfig;
    const tokens = new XeroTokens(config, http, connectorCredentials, credentials, store);
    return { tokens, presented, writes };
  }

  it("discards the old grant's token and refreshes once more from the credentials stored now", async () => {
    const { tokens, presented, writes } = rig([app(1), app(2)], [true, false]);
    const token = await tokens.get(ctx, app(1));
    expect(presented).toEqual(['rt-1', 'rt-2']);
    expect(token).toMatchObject({ accessToken: 'at-from-rt-2', clientId: 'client-2' });
    // Each write was conditioned on the read it came from.
    expect(writes.map((w) => [w.revision, w.value.refreshToken])).toEqual([
      [{ read: 0 }, "rt-1'"],
      [{ read: 1 }, "rt-2'"],
    ]);
  });

  it('replaced again during the second refresh: a tool error, and neither token is used', async () => {
    const { tokens, presented } = rig([app(1), app(2), app(3)], [true, true, false]);
    await expect(tokens.get(ctx, app(1))).rejects.toMatchObject({ code: 'xero_credentials_changed' });
    expect(presented).toEqual(['rt-1', 'rt-2']);
  });
});

describe('XeroTokens per organisation', () => {
  const ctxOf = (organizationId: string) => ({ principal: { organizationId } }) as unknown as ToolContext;
  const config = {
    connectors: { maxRetries: 0, maxRetryWaitMs: 0, baseUrls: { xeroIdentity: 'http://xero.invalid' } },
  } as unknown as AppConfig;
  let store: MemoryStore;
  beforeEach(() => {
    store = new MemoryStore();
  });
  afterEach(async () => {
    await store.close();
  });

  /** One organisation's Xero record, read for update and replaced by the tokens' rotation as the vault would. */
  function oneRecordVault(initial: XeroCredentials) {
    const vault = {
      stored: initial,
      connectorCredentials: {
        getForUpdate: () => Promise.resolve({ value: vault.stored, revision: {} }),
      } as unknown as ConnectorCredentials,
      credentials: {
        replaceIfUnchanged: (_o: string, _s: string, _r: unknown, value: XeroCredentials) => {
          vault.stored = value;
          return Promise.resolve('replaced');
        },
      } as unknown as CredentialsService,
    };
    return vault;
  }

  /** Xero's token endpoint: an access token naming the client id it was asked with (from the Basic header), answered a turn later. */
  function tokenEndpoint() {
    const asked: string[] = [];
    const http = {
      send: async (req: UpstreamRequest) => {
        const basic = Buffer.from(req.headers!.authorization.replace(/^Basic /, ''), 'base64').toString();
        const clientId = decodeURIComponent(basic.split(':')[0]);
        asked.push(clientId);
        await new Promise((r) => setImmediate(r));
        const rt = new URLSearchParams(req.body).get('refresh_token');
        const text = JSON.stringify({
          access_token: `at-of-${clientId}`,
          expires_in: 1800,
          ...(rt ? { refresh_token: `${rt}'` } : {}),
        });
        return { status: 200, headers: new Headers(), text, json: () => JSON.parse(text) as unknown };
      },
    } as unknown as UpstreamHttp;
    return { http, asked };
  }

  it("concurrent first calls of two organisations each get their own organisation's token", async () => {
    const { http, asked } = tokenEndpoint();
    const tokens = new XeroTokens(config, http, {} as ConnectorCredentials, {} as CredentialsService, store);
    const custom = (clientId: string): XeroCredentials => ({
      grantType: 'client_credentials',
      clientId,
      clientSecret: `secret-of-${clientId}`,
    });
    const [a, b] = await Promise.all([
      tokens.get(ctxOf('org-a'), custom('client-a')),
      tokens.get(ctxOf('org-b'), custom('client-b')),
    ]);
    expect(a.accessToken).toBe('at-of-client-a');
    expect(b.accessToken).toBe('at-of-client-b');
    expect(asked.sort()).toEqual(['client-a', 'client-b']);
  });

  it('keeps its token for the refresh token it rotated itself, even while the shared store does not answer', async () => {
    const { http, asked } = tokenEndpoint();
    let down = false;
    class FlakyStore extends MemoryStore {
      override get(key: string): Promise<string | null> {
        return down ? Promise.reject(new Error('connect ECONNREFUSED')) : super.get(key);
      }
    }
    const flaky = new FlakyStore();
    const vault = oneRecordVault({
      grantType: 'authorization_code',
      clientId: 'client-1',
      clientSecret: 'secret-1',
      refreshToken: 'rt-1',
    });
    try {
      const tokens = new XeroTokens(config, http, vault.connectorCredentials, vault.credentials, flaky);
      const ctx = ctxOf('org-1');
      const first = await tokens.get(ctx, vault.stored);
      expect(vault.stored).toMatchObject({ refreshToken: "rt-1'" });
      down = true;
      expect(await tokens.get(ctx, vault.stored)).toBe(first);
      expect(asked).toHaveLength(1);
    } finally {
      await flaky.close();
    }
  });

  it("credentials stored for another Xero app, even with the same refresh token, get that app's token", async () => {
    const { http, asked } = tokenEndpoint();
    const vault = oneRecordVault({
      grantType: 'authorization_code',
      clientId: 'client-1',
      clientSecret: 'secret-1',
      refreshToken: 'rt-1',
    });
    const tokens = new XeroTokens(config, http, vault.connectorCredentials, vault.credentials, store);
    const ctx = ctxOf('org-1');
    expect((await tokens.get(ctx, vault.stored)).accessToken).toBe('at-of-client-1');
    // An admin stores another app's id and secret beside the refresh token last rotated.
    vault.stored = { ...vault.stored, clientId: 'client-2', clientSecret: 'secret-2' };
    const token = await tokens.get(ctx, vault.stored);
    expect(token).toMatchObject({ accessToken: 'at-of-client-2', clientId: 'client-2' });
    expect(asked).toEqual(['client-1', 'client-2']);
  });
});
