/**
 * `notifications/resources/updated` for `sentia://connectors`, driven by the
 * real SDK clients of both eras with real keys, credentials changed over REST:
 * a 2025-era session subscribed to it hears of its organisation's credential
 * changes on its GET stream, a 2026-07-28 `subscriptions/listen` stream on
 * the stream; another organisation's session or stream, subscribed to the
 * same URI, hears nothing of them; nor does a key of the organisation that
 * does not hold the changed service's permission. Not after
 * `resources/unsubscribe`, not for a connector's own token refresh. In the
 * cluster shape (PostgreSQL + Redis, two instances), a subscription served
 * by the instance that does not
 * hold the session's GET stream, and a change made there, still reach it.
 *
 * A negative is checked after a positive of the same change has arrived and
 * a round trip on the silent client's own session: no sleeps.
 */
jest.setTimeout(60_000);

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { CredentialsService } from '../../src/credentials/credentials.service';
import { SESSION_SUBSCRIPTIONS_PREFIX } from '../../src/mcp/session-subscriptions';
import { RevocationService } from '../../src/auth/revocation.service';
import { SESSION_KEY_PREFIX } from '../../src/mcp/legacy-sessions.service';
import { KeyValueStore } from '../../src/store/key-value-store';
import {
  describeWithPostgres,
  describeWithRedis,
  dropSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey, waitFor } from './auth-helpers';

const URI = 'sentia://connectors';
const XERO = {
  grantType: 'client_credentials',
  clientId: 'UPDATES-E2E-1',
  clientSecret: 'xero-updates-SECRET-0001',
};
const OPENAI = { apiKey: 'sk-openai-updates-SECRET-0002' };
for (const s of [XERO.clientSecret, OPENAI.apiKey]) registerSecret(s, 'mcp-resource-updates secret');
const BODIES = { xero: XERO, openai: OPENAI } as const;

/** A client and the URIs of the `notifications/resources/updated` it has received, in order. */
interface Subscriber {
  updates: string[];
  /** A request on the client's own session (or connection): what it received before is in `updates`. */
  roundTrip(): Promise<unknown>;
  close(): Promise<void>;
}

/** Where a 2025-era client's requests go: initialize and the GET stream to one instance, the rest to `rest`. */
interface Routes {
  opener: StartedApp;
  rest: StartedApp;
}

async function changeCredential(
  app: StartedApp,
  token: string,
  method: 'PUT' | 'DELETE',
  service: keyof typeof BODIES,
): Promise<void> {
  const res = await fetch(`${app.url}/credentials/${service}`, {
    method,
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: method === 'PUT' ? JSON.stringify(BODIES[service]) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /credentials/${service} answered ${res.status}: ${text}`);
}

/** A 2025-11-25 session of `token`, subscribed to the connectors resource, its GET stream open. */
async function legacySubscriber(token: string, routes: Routes, subscribe = true) {
  let streamOpen!: () => void;
  const opened = new Promise<void>((resolve) => (streamOpen = resolve));
  const served: string[] = [];
  // The load balancer: initialize and the GET stream to the opener, every other request to `rest`.
  const route = async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? init.body : '';
    const app = method === 'GET' || body.includes('"method":"initialize"') ? routes.opener : routes.rest;
    served.push(`${method} ${app.url} ${/"method":"([^"]+)"/.exec(body)?.[1] ?? ''}`);
    const res = await fetch(`${app.url}${url.pathname}${url.search}`, init);
    if (method === 'GET' && res.ok) streamOpen();
    return res;
  };
  const client = new ClientV1({ name: 'e2e-updates-v1', version: '1.0.0' });
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
  });
  const transport = new TransportV1(new URL(`${routes.opener.url}/mcp`), {
    requestInit: { headers: bearer(token) },
    fetch: route,
  });
  await client.connect(transport);
  await opened;
  if (subscribe) await client.subscribeResource({ uri: URI });
  return {
    client,
    sessionId: transport.sessionId!,
    served,
    updates,
    roundTrip: () => client.ping(),
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** A 2026-07-28 client of `token` listening for the connectors resource's updates. */
async function listener(app: StartedApp, token: string): Promise<Subscriber> {
  const client = new ClientV2(
    { name: 'e2e-updates-v2', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const updates: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    updates.push(n.params.uri);
  });
  await client.connect(
    new TransportV2(new URL(`${app.url}/mcp`), { requestInit: { headers: bearer(token) } }),
  );
  const subscription = await client.listen({ resourceSubscriptions: [URI] });
  expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [URI] });
  return {
    updates,
    // A 2026-07-28 client sends no ping: any request goes the whole way.
    roundTrip: () => client.callTool({ name: 'server_info', arguments: {} }),
    close: async () => {
      await subscription.close();
      await client.close();
    },
  };
}

/** Waits until `s` has received `n` updates, then makes sure, after a round trip, that no more came. */
async function expectUpdates(s: Subscriber, n: number): Promise<void> {
  await waitFor(async () => s.updates.length >= n, 10_000);
  await s.roundTrip();
  expect(s.updates).toEqual(Array<string>(n).fill(URI));
}

describe('sentia://connectors updates (embedded: SQLite + memory store)', () => {
  let started: StartedApp;
  const admin: Record<'org-a' | 'org-b', string> = { 'org-a': '', 'org-b': '' };
  const reader: Record<'org-a' | 'org-b', string> = { 'org-a': '', 'org-b': '' };
  const open: Subscriber[] = [];
  const routes = (): Routes => ({ opener: started, rest: started });

  beforeAll(async () => {
    started = await startApp({ ...AUTH_ENV, RATE_LIMIT_IP_MAX: '100000' });
    for (const org of ['org-a', 'org-b'] as const) {
      admin[org] = (await issueKey(started, org, ['credentials:write'], `updates admin ${org}`)).token;
      reader[org] = (await issueKey(started, org, ['xero:read', 'ai:invoke'], `updates reader ${org}`)).token;
    }
  });
  afterAll(async () => {
    for (const s of open) await s.close().catch(() => undefined);
    await started?.close();
  });
  const track = <S extends Subscriber>(s: S): S => (open.push(s), s);

  it("a 2025-era session hears of its organisation's credential changes, never another organisation's", async () => {
    const b = track(await legacySubscriber(reader['org-b'], routes()));
    const a = track(await legacySubscriber(reader['org-a'], routes()));

    await changeCredential(started, admin['org-a'], 'PUT', 'xero');
    await expectUpdates(a, 1);
    await expectUpdates(b, 0); // checked after a has its update, and after a round trip of b's own

    await changeCredential(started, admin['org-b'], 'PUT', 'openai');
    await expectUpdates(b, 1);
    await expectUpdates(a, 1);

    await changeCredential(started, admin['org-a'], 'DELETE', 'xero');
    await expectUpdates(a, 2);
    await expectUpdates(b, 1);
  });

  it('after resources/unsubscribe a session hears nothing more; a session never subscribed, nothing', async () => {
    const gone = track(await legacySubscriber(reader['org-a'], routes()));
    const never = track(await legacySubscriber(reader['org-a'], routes(), false));
    const stays = track(await legacySubscriber(reader['org-a'], routes()));
    await gone.client.unsubscribeResource({ uri: URI });

    await changeCredential(started, admin['org-a'], 'PUT', 'openai');
    await expectUpdates(stays, 1);
    await expectUpdates(gone, 0);
    await expectUpdates(never, 0);
  });

  it("a session's subscriptions are kept in the store beside its record, and go when it ends", async () => {
    const store = started.app.get(KeyValueStore);
    const s = await legacySubscriber(reader['org-a'], routes());
    const kept = SESSION_SUBSCRIPTIONS_PREFIX + s.sessionId;
    expect(JSON.parse((await store.get(kept))!)).toEqual([URI]);
    await s.client.subscribeResource({ uri: URI }); // again: still one
    expect(JSON.parse((await store.get(kept))!)).toEqual([URI]);
    await s.close(); // DELETE
    expect(await store.get(kept)).toBeNull();
  });

  it('a session in use keeps its subscriptions as long as its record: a request extends both TTLs', async () => {
    const store = started.app.get(KeyValueStore);
    const s = track(await legacySubscriber(reader['org-a'], routes()));
    const record = SESSION_KEY_PREFIX + s.sessionId;
    const kept = SESSION_SUBSCRIPTIONS_PREFIX + s.sessionId;
    const ttlMs = started.config.mcp.sessionTtlSeconds * 1000;
    // Both TTLs well run down, and the record last extended more than a quarter TTL ago (the clock
    // moved on, not waited for): the next request extends the record, and the subscriptions with it.
    for (const key of [record, kept]) await store.expire(key, ttlMs / 2);
    const later = Date.now() + ttlMs / 4 + 1_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => later);
    try {
      // The revoked key set was loaded "long ago" too: loaded again now, keys are checked as usual.
      await started.app.get(RevocationService).refresh();
      await s.roundTrip();
      const [recordTtl, keptTtl] = [await store.ttl(record), await store.ttl(kept)];
      expect(recordTtl).toBe(ttlMs);
      expect(keptTtl).toBe(ttlMs);
    } finally {
      clock.mockRestore();
    }
  });

  it("a connector's own token refresh is not an update; an admin's change after it is one", async () => {
    await changeCredential(started, admin['org-a'], 'PUT', 'xero');
    const a = track(await legacySubscriber(reader['org-a'], routes()));
    const vault = started.app.get(CredentialsService);
    const { value, revision } = await vault.readForUpdate('org-a', 'xero');
    expect(await vault.replaceIfUnchanged('org-a', 'xero', revision, { ...value })).toBe('replaced');
    await changeCredential(started, admin['org-a'], 'PUT', 'openai'); // the marker
    await expectUpdates(a, 1);
  });

  it('a key hears only of the services it holds the permission of (the resource shows it no other), in both eras', async () => {
    const aiOnly = (await issueKey(started, 'org-a', ['ai:invoke'], 'updates ai-only a')).token;
    const xeroOnly = (await issueKey(started, 'org-a', ['xero:read'], 'updates xero-only a')).token;
    const sessionAi = track(await legacySubscriber(aiOnly, routes()));
    const streamAi = track(await listener(started, aiOnly));
    const sessionXero = track(await legacySubscriber(xeroOnly, routes()));
    const streamXero = track(await listener(started, xeroOnly));

    await changeCredential(started, admin['org-a'], 'PUT', 'xero');
    await expectUpdates(sessionXero, 1);
    await expectUpdates(streamXero, 1);
    await expectUpdates(sessionAi, 0);
    await expectUpdates(streamAi, 0);

    await changeCredential(started, admin['org-a'], 'PUT', 'openai');
    await expectUpdates(sessionAi, 1);
    await expectUpdates(streamAi, 1);
    await expectUpdates(sessionXero, 1);
    await expectUpdates(streamXero, 1);
  });

  it("a 2026-07-28 listen stream hears of its organisation's changes, never another organisation's", async () => {
    const b = track(await listener(started, reader['org-b']));
    const a = track(await listener(started, reader['org-a']));

    await changeCredential(started, admin['org-a'], 'PUT', 'xero');
    await expectUpdates(a, 1);
    await expectUpdates(b, 0);

    await changeCredential(started, admin['org-b'], 'PUT', 'xero');
    await expectUpdates(b, 1);
    await expectUpdates(a, 1);
  });

  it('a listen stream is acknowledged for the URIs the key could read only; too many or too long is refused', async () => {
    const client = new ClientV2(
      { name: 'e2e-updates-filter', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new TransportV2(new URL(`${started.url}/mcp`), { requestInit: { headers: bearer(reader['org-a']) } }),
    );
    try {
      // An unknown URI (a typo) is left out of what is honoured, and a URI given twice is one.
      const mixed = await client.listen({ resourceSubscriptions: ['sentia://conectors', URI, URI] });
      expect(mixed.honoredFilter).toEqual({ resourceSubscriptions: [URI] });
      await mixed.close();
      // Nothing readable: nothing honoured, and the stream ends at once.
      const none = await client.listen({ resourceSubscriptions: ['sentia://conectors'] });
      expect(none.honoredFilter).toEqual({});
      await none.close();

      const many = Array.from({ length: 17 }, (_, i) => `${URI}/${i}`);
      await expect(client.listen({ resourceSubscriptions: many })).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining('names 17 URIs; a listen stream takes at most 16'),
      });
      await expect(
        client.listen({ resourceSubscriptions: [`${URI}/${'x'.repeat(1100)}`] }),
      ).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining('a subscribed URI is at most 1024 characters'),
      });
      // The server kept serving this client.
      expect((await client.callTool({ name: 'server_info', arguments: {} })).isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });
});

describeWithPostgres('sentia://connectors updates across two instances', () => {
  describeWithRedis('sharing Redis', () => {
    let a: StartedApp;
    let b: StartedApp;
    const schema = uniqueName('mcp_updates');
    const open: Subscriber[] = [];

    beforeAll(async () => {
      const env = {
        ...AUTH_ENV,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: `${uniqueName('updates')}:`,
        RATE_LIMIT_IP_MAX: '100000',
        LOG_LEVEL: 'warn',
      };
      a = await startApp(env);
      b = await startApp(env);
    });
    afterAll(async () => {
      for (const s of open) await s.close().catch(() => undefined);
      await a?.close();
      await b?.close();
      await dropSchema(schema);
    });

    it('a subscription served by the other instance, and a change made there, reach the GET stream on the opener', async () => {
      const admin = (await issueKey(b, 'org-c', ['credentials:write'], 'cluster admin c')).token;
      const token = (await issueKey(a, 'org-c', ['xero:read'], 'cluster reader c')).token;
      const other = (await issueKey(a, 'org-d', ['xero:read'], 'cluster reader d')).token;
      // Sessions opened on a (their GET streams there); subscribe and every other request on b.
      const d = await legacySubscriber(other, { opener: a, rest: b });
      const c = await legacySubscriber(token, { opener: a, rest: b });
      open.push(c, d);
      expect(c.served.filter((s) => s.includes('resources/subscribe'))).toEqual([
        `POST ${b.url} resources/subscribe`,
      ]);
      expect(c.served.filter((s) => s.startsWith('GET'))).toEqual([`GET ${a.url} `]);

      await changeCredential(b, admin, 'PUT', 'xero');
      await expectUpdates(c, 1);
      await expectUpdates(d, 0);

      await c.client.unsubscribeResource({ uri: URI }); // served by b
      await changeCredential(b, admin, 'DELETE', 'xero');
      const marker = await legacySubscriber(token, { opener: a, rest: b });
      open.push(marker);
      await changeCredential(b, admin, 'PUT', 'xero');
      await expectUpdates(marker, 1);
      await expectUpdates(c, 1);

      // Ended through b (not the opener): the subscriptions go with the record.
      const kept = SESSION_SUBSCRIPTIONS_PREFIX + marker.sessionId;
      expect(await a.app.get(KeyValueStore).get(kept)).not.toBeNull();
      const ended = await fetch(`${b.url}/mcp`, {
        method: 'DELETE',
        headers: { ...bearer(token), 'mcp-session-id': marker.sessionId },
      });
      expect(ended.status).toBe(200);
      expect(await a.app.get(KeyValueStore).get(kept)).toBeNull();
    });
  });
});
