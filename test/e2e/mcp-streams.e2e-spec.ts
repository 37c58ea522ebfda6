/**
 * A stream the client holds open (a 2025-era session's GET stream, a
 * 2026-07-28 `subscriptions/listen`) was authenticated once, when it opened.
 * Revoking its key, or the key expiring, must end it: revocation is the brake
 * on a leaked key, and a leaked key's open streams are part of what it holds.
 */
import { LegacySessions, SESSION_KEY_PREFIX } from '../../src/mcp/legacy-sessions.service';
import { KeyValueStore } from '../../src/store/key-value-store';
import { initializeRequest, modernMeta } from '../support/mcp-messages';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';

jest.setTimeout(20_000);

const ACCEPT = 'application/json, text/event-stream';
const MODERN_META = modernMeta('streams');

/** Reads `res`'s body to its end; resolves with when it ended (ms since epoch). */
async function endOf(res: Response): Promise<number> {
  const reader = res.body!.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) return Date.now();
  }
}

/** Opens a 2025-era session with `key` and its GET stream; returns the stream's response and the session id. */
async function openSessionStream(mcp: string, key: TestKey): Promise<{ stream: Response; session: string }> {
  const headers = { ...authHeaders(key), 'content-type': 'application/json', accept: ACCEPT };
  const init = await fetch(mcp, { method: 'POST', headers, body: JSON.stringify(initializeRequest()) });
  expect(init.status).toBe(200);
  await init.text();
  const session = init.headers.get('mcp-session-id')!;
  const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  const note = await fetch(mcp, {
    method: 'POST',
    headers: sessionHeaders,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(note.status).toBe(202);
  const stream = await fetch(mcp, {
    method: 'GET',
    headers: { ...authHeaders(key), accept: 'text/event-stream', 'mcp-session-id': session },
  });
  expect(stream.status).toBe(200);
  expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
  return { stream, session };
}

describe('open MCP streams end when their key is revoked or expires', () => {
  let started: StartedApp;
  let admin: TestKey;
  let mcp: string;

  beforeAll(async () => {
    started = await startApp();
    admin = await TestKey.create(started, { permissions: ['keys:admin'], name: 'admin' });
    mcp = `${started.url}/mcp`;
  });
  afterAll(async () => started?.close());

  const sessionStream = (key: TestKey) => openSessionStream(mcp, key);

  it('revoking a key ends its GET stream and its session, and leaves the streams of other keys alone', async () => {
    const leaked = await TestKey.create(started, { permissions: ['ai:invoke'], name: 'leaked' });
    const other = await TestKey.create(started, { permissions: ['ai:invoke'], name: 'other' });
    const sessions = started.app.get(LegacySessions);
    const before = sessions.size;
    const { stream } = await sessionStream(leaked);
    const bystander = await sessionStream(other);
    expect(sessions.size).toBe(before + 2);
    const ended = endOf(stream);
    let bystanderEnded = false;
    const bystanderEnd = endOf(bystander.stream).then(() => (bystanderEnded = true));

    const revokedAt = Date.now();
    const revoke = await fetch(`${started.url}/admin/api-keys/${leaked.keyId}/revoke`, {
      method: 'POST',
      headers: { ...authHeaders(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'leaked' }),
    });
    expect(revoke.status).toBe(200);
    // Checked every second: the stream ends within a few, not at the client's own timeout.
    expect((await ended) - revokedAt).toBeLessThan(5_000);
    expect(sessions.size).toBe(before + 1);
    expect(bystanderEnded).toBe(false);

    // The bystander's session still serves.
    const list = await fetch(mcp, {
      method: 'POST',
      headers: {
        ...authHeaders(other),
        'content-type': 'application/json',
        accept: ACCEPT,
        'mcp-session-id': bystander.session,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(list.status).toBe(200);
    await list.text();
    await fetch(mcp, {
      method: 'DELETE',
      headers: { ...authHeaders(other), 'mcp-session-id': bystander.session },
    });
    await bystanderEnd;
  });

  it('a session whose GET stream is open is not idle: the idle sweep keeps it, and ends one without', async () => {
    const key = await TestKey.create(started, { permissions: ['ai:invoke'], name: 'listener' });
    const listening = await sessionStream(key);
    const idle = await sessionStream(key);
    await idle.stream.body?.cancel(); // its stream closed: nothing open on it
    await new Promise((r) => setTimeout(r, 100));
    // The idle sweeps of the next MCP_SESSION_TTL (3600 s) and a minute: half way, then past it,
    // with no request on either session meanwhile (the clock moved for the sweeps alone).
    const live = started.app.get(LegacySessions);
    const sessions = live as unknown as { sweep(): Promise<void> };
    const before = live.size;
    const now = Date.now();
    for (const later of [now + 1_800_000, now + 3_661_000]) {
      const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
      try {
        await sessions.sweep();
      } finally {
        clock.mockRestore();
      }
    }
    const ping = (session: string) =>
      fetch(mcp, {
        method: 'POST',
        headers: {
          ...authHeaders(key),
          'content-type': 'application/json',
          accept: ACCEPT,
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }),
      });
    // The idle one was closed here (its record then lapses in the store at its own TTL); the listening
    // one is still live, its stream open, and answers.
    expect(live.size).toBe(before - 1);
    expect((await ping(listening.session)).status).toBe(200);
    await listening.stream.body?.cancel();
  });

  it('the idle sweep closes a listening session whose record is gone (ended elsewhere, the announcement missed)', async () => {
    const key = await TestKey.create(started, { permissions: ['ai:invoke'], name: 'orphan' });
    const orphan = await sessionStream(key);
    const kept = await sessionStream(key);
    const streamEnd = orphan.stream.text().then(
      () => 'ended',
      (e: Error) => `failed (${e.name})`,
    );
    const live = started.app.get(LegacySessions);
    const before = live.size;
    // Another instance's DELETE took the record; its announcement on the store's channel never came here.
    await started.app.get(KeyValueStore).del(SESSION_KEY_PREFIX + orphan.session);
    await (live as unknown as { sweep(): Promise<void> }).sweep();
    // That one alone is closed, its stream with it; the other listening session stays.
    expect(live.size).toBe(before - 1);
    expect(await streamEnd).toBe('ended');
    await kept.stream.body?.cancel();
  });

  it('a key that expires while its GET stream is open has the stream ended at its expiry', async () => {
    const shortLived = await TestKey.create(started, {
      permissions: ['ai:invoke'],
      name: 'short',
      expiresInSeconds: 3,
    });
    const opened = Date.now();
    const { stream } = await sessionStream(shortLived);
    const endedAt = await endOf(stream);
    // Not before the key's expiry (3 s, to the second), and soon after it.
    expect(endedAt - opened).toBeGreaterThanOrEqual(1_000);
    expect(endedAt - opened).toBeLessThan(8_000);
    // From then on the key itself is refused as expired: a client is told why, instead of being
    // admitted to a new session whose stream ends again (it had 30 s of clock leeway).
    const again = await fetch(mcp, {
      method: 'POST',
      headers: { ...authHeaders(shortLived), 'content-type': 'application/json', accept: ACCEPT },
      body: JSON.stringify(initializeRequest()),
    });
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ reason: 'expired' });
  });

  it('revoking a key ends its 2026-07-28 subscriptions/listen stream', async () => {
    const leaked = await TestKey.create(started, { permissions: ['ai:invoke'], name: 'listener' });
    const listen = await fetch(mcp, {
      method: 'POST',
      headers: {
        ...authHeaders(leaked),
        'content-type': 'application/json',
        accept: ACCEPT,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscriptions/listen',
        // A resource subscription keeps the stream open (with nothing to listen to, it ends at once).
        params: { notifications: { resourceSubscriptions: ['sentia://connectors'] }, _meta: MODERN_META },
      }),
    });
    expect(listen.status).toBe(200);
    expect(listen.headers.get('content-type')).toMatch(/text\/event-stream/);
    let endedEarly = false;
    const ended = endOf(listen).then((at) => ((endedEarly = true), at));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(endedEarly).toBe(false); // open until revoked
    const revokedAt = Date.now();
    const revoke = await fetch(`${started.url}/admin/api-keys/${leaked.keyId}/revoke`, {
      method: 'POST',
      headers: { ...authHeaders(admin), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(revoke.status).toBe(200);
    expect((await ended) - revokedAt).toBeLessThan(5_000);
  });
});

describe("one organisation's open streams are bounded (MCP_MAX_STREAMS_PER_ORG)", () => {
  let started: StartedApp;
  let mcp: string;

  beforeAll(async () => {
    started = await startApp({ MCP_MAX_STREAMS_PER_ORG: '2' });
    mcp = `${started.url}/mcp`;
  });
  afterAll(async () => started?.close());

  it("past its share an organisation's next stream is refused (429, naming the limit); another organisation still opens one, and a closed stream frees its slot", async () => {
    const keyOf = (org: string, name: string) =>
      TestKey.create(started, { permissions: ['ai:invoke'], organizationId: org, name });
    const a = await Promise.all(['a1', 'a2', 'a3'].map((n) => keyOf('org-streams-a', n)));
    const first = await openSessionStream(mcp, a[0]);
    await openSessionStream(mcp, a[1]);
    // The third key of the same organisation: a GET stream, and a 2026-07-28 listen stream.
    const headers = { ...authHeaders(a[2]), 'content-type': 'application/json', accept: ACCEPT };
    const init = await fetch(mcp, { method: 'POST', headers, body: JSON.stringify(initializeRequest()) });
    const session = init.headers.get('mcp-session-id')!;
    await init.text();
    const get = await fetch(mcp, {
      headers: { ...authHeaders(a[2]), accept: 'text/event-stream', 'mcp-session-id': session },
    });
    const listen = await fetch(mcp, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'subscriptions/listen',
        params: { resourceSubscriptions: ['sentia://connectors'], _meta: MODERN_META },
      }),
    });
    for (const [name, res] of [
      ['GET', get],
      ['listen', listen],
    ] as const) {
      const body = (await res.json()) as { error: { code: number; message: string } };
      expect([name, res.status, body.error]).toEqual([
        name,
        429,
        {
          code: -32000,
          message: expect.stringContaining(
            "this organisation's keys hold 2 on this server (MCP_MAX_STREAMS_PER_ORG)",
          ),
        },
      ]);
    }
    // Another organisation is not shut out.
    const b = await keyOf('org-streams-b', 'b1');
    await openSessionStream(mcp, b);
    // Closing one of org A's streams frees its slot (once the server has seen it close).
    await first.stream.body!.cancel();
    let again: Response | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      if (again) await new Promise((r) => setTimeout(r, 100));
      again = await fetch(mcp, {
        headers: { ...authHeaders(a[2]), accept: 'text/event-stream', 'mcp-session-id': session },
      });
      if (again.status !== 200) await again.text();
    }
    expect(again!.status).toBe(200);
    await again!.body!.cancel();
  });
});
