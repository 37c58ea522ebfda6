import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal';
import { HeldStreams } from './held-streams';

/** A response as HeldStreams sees one: it can be ended, and says when it closed. */
function response(): ServerResponse & { ended: boolean } {
  const res = new EventEmitter() as unknown as ServerResponse & { ended: boolean };
  res.ended = false;
  res.end = (() => {
    res.ended = true;
    res.emit('close');
    return res;
  }) as unknown as typeof res.end;
  return res;
}

const principal = (keyId: string, organizationId: string): Principal =>
  ({ keyId, organizationId, userId: 'u', permissions: ['ai:invoke'] }) as unknown as Principal;

describe('HeldStreams per organisation', () => {
  it('counts the streams each organisation holds, and forgets one when it closes or is ended', () => {
    const streams = new HeldStreams();
    const [a1, a2, b1] = [response(), response(), response()];
    streams.hold(a1, principal('k1', 'org-a'));
    streams.hold(a2, principal('k2', 'org-a'));
    streams.hold(a2, principal('k2', 'org-a')); // the same response twice counts once
    streams.hold(b1, principal('k3', 'org-b'));
    expect([streams.heldBy('org-a'), streams.heldBy('org-b'), streams.size]).toEqual([2, 1, 3]);

    a1.emit('close'); // the client went away
    expect(streams.heldBy('org-a')).toBe(1);
    // Ended for its revoked key: released once, though its close follows.
    expect(streams.endInvalid((keyId) => keyId === 'k2')).toEqual(new Map([['k2', 'revoked']]));
    expect([a2.ended, streams.heldBy('org-a'), streams.heldBy('org-b'), streams.size]).toEqual([
      true,
      0,
      1,
      1,
    ]);

    streams.endAll();
    expect([b1.ended, streams.heldBy('org-b'), streams.size]).toEqual([true, 0, 0]);
  });

  it('ends the stream of a key at its expiry, not before', () => {
    const streams = new HeldStreams();
    const res = response();
    const expiresAt = new Date('2026-01-01T00:00:00Z');
    streams.hold(res, { ...principal('k1', 'org-a'), expiresAt });
    expect(streams.endInvalid(() => false, expiresAt.getTime() - 1)).toEqual(new Map());
    expect([res.ended, streams.size]).toEqual([false, 1]);
    expect(streams.endInvalid(() => false, expiresAt.getTime())).toEqual(new Map([['k1', 'expired']]));
    expect([res.ended, streams.size]).toEqual([true, 0]);
  });
});
