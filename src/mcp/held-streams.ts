import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal';

/** Why a held stream was ended: its key was revoked, or it expired. */
export type EndReason = 'revoked' | 'expired';

/**
 * The long-lived /mcp responses (a 2025-era session's GET event stream, a
 * 2026-07-28 `subscriptions/listen` stream) and the key each was opened with.
 * Every request is authenticated when it arrives, but a stream, once open,
 * runs for as long as the client keeps it: without this, a revoked or expired
 * key kept receiving on the streams it already had. `endInvalid` ends them.
 */
export class HeldStreams {
  private readonly held = new Map<ServerResponse, Principal>();
  /** Streams held per organisation. */
  private readonly perOrg = new Map<string, number>();

  get size(): number {
    return this.held.size;
  }

  /** Streams the keys of `organizationId` hold open here now. */
  heldBy(organizationId: string): number {
    return this.perOrg.get(organizationId) ?? 0;
  }

  hold(res: ServerResponse, principal: Principal): void {
    if (this.held.has(res)) return;
    this.held.set(res, principal);
    const org = principal.organizationId;
    this.perOrg.set(org, this.heldBy(org) + 1);
    res.once('close', () => this.release(res));
  }

  /**
   * Ends every held stream whose key `isRevoked` says is revoked, or whose
   * expiry has passed at `now`; returns each ended key with its reason.
   */
  endInvalid(isRevoked: (keyId: string) => boolean, now = Date.now()): Map<string, EndReason> {
    const ended = new Map<string, EndReason>();
    for (const [res, p] of this.held) {
      const reason: EndReason | undefined = isRevoked(p.keyId)
        ? 'revoked'
        : p.expiresAt !== undefined && p.expiresAt.getTime() <= now
          ? 'expired'
          : undefined;
      if (!reason) continue;
      ended.set(p.keyId, reason);
      this.release(res);
      res.end();
    }
    return ended;
  }

  /** Ends every held stream (shutdown). */
  endAll(): void {
    for (const res of this.held.keys()) res.end();
    this.held.clear();
    this.perOrg.clear();
  }

  private release(res: ServerResponse): void {
    const p = this.held.get(res);
    if (!p) return;
    this.held.delete(res);
    const left = this.heldBy(p.organizationId) - 1;
    if (left > 0) this.perOrg.set(p.organizationId, left);
    else this.perOrg.delete(p.organizationId);
  }
}
