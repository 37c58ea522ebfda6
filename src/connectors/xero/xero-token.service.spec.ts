import type { AppConfig } from '../../config/config.types';
import type { XeroCredentials } from '../../credentials/credential-schemas';
import type { CredentialsService } from '../../credentials/credentials.service';
import type { ToolContext } from '../../mcp/mcp-context';
import type { KeyValueStore, StoreLock } from '../../store/key-value-store';
import type { ConnectorCredentials } from '../http/connector-credentials.service';
import type { UpstreamHttp, UpstreamRequest } from '../http/upstream-http.service';
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
        update: () => {
          heldWhenStored.push(now < lockedUntil);
          return Promise.resolve();
        },
        clearCache: () => undefined,
      } as unknown as CredentialsService;
      const connectorCredentials = { get: () => Promise.resolve(stored) } as unknown as ConnectorCredentials;
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
