import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditWriter } from '../audit/audit.writer';
import { isStorableTime } from '../common/storable-time';
import type { Principal } from './principal';
import { ApiKeyTokenService } from './tokens/api-key-token.service';
import { hasPermission, Permission } from './tokens/permissions';
import { ApiKey } from './api-key.entity';
import { ApiKeyError } from './api-key.errors';
import { ApiKeyPosition, ApiKeyRepository } from './api-key.repository';
import { ApiKeyDto, ApiKeyPageDto, CreatedApiKeyDto, statusOf, toApiKeyDto } from './api-key.dto';
import { CreateApiKeyInput, KEY_ID_PATTERN, ListApiKeysInput, RotateApiKeyInput } from './api-key.schemas';
import { RevocationNotifier } from './revocation.notifier';
import { SharedKnownKeys } from './shared-known-keys';

/**
 * The operator acting without a key (the `sentia-mcp` command line): it may
 * grant anything within the organisation it names. Never built from a request.
 */
export interface SystemActor {
  kind: 'system';
  /** Which tool acts, recorded as `created_by = system:<tool>`. */
  tool: string;
  organizationId: string;
  userId: string;
}

export type Actor = Principal | SystemActor;

export class RotatedApiKeyDto extends CreatedApiKeyDto {
  /** The key that was replaced, with its (possibly scheduled) revocation time. */
  previous: ApiKeyDto;
}

const isSystem = (actor: Actor): actor is SystemActor => (actor as SystemActor).kind === 'system';

/** When an actor's own key expires (the command line's system actor never does). */
const actorExpiry = (actor: Actor): Date | undefined => (isSystem(actor) ? undefined : actor.expiresAt);

/** `expiresAt`, brought forward to `limit` when it is later (or never). */
const capAt = (expiresAt: Date | null, limit: Date | undefined): Date | null =>
  limit && (!expiresAt || expiresAt.getTime() > limit.getTime()) ? limit : expiresAt;
/** Up to the next whole second (a token's `exp` is in seconds): a key never lives shorter than asked. */
const wholeSeconds = (ms: number): Date => new Date(Math.ceil(ms / 1000) * 1000);

/** Why `key` cannot be rotated at `now`: revoked, expired, or already being rotated (revoked later). */
function notRotatable(key: ApiKey, now: number): ApiKeyError {
  const status = statusOf(key, new Date(now));
  const why =
    status === 'revoked'
      ? `it was revoked at ${key.revokedAt!.toISOString()}`
      : status === 'expired'
        ? `it expired at ${key.expiresAt!.toISOString()}`
        : `it is already being rotated (revoked at ${key.revokedAt!.toISOString()})`;
  return new ApiKeyError(
    'not_rotatable',
    `Only an active key that is not already being rotated can be rotated: ${why}`,
  );
}

export function newKeyId(): string {
  return `key_${randomBytes(16).toString('base64url')}`;
}

function encodeCursor(key: ApiKey): string {
  return Buffer.from(JSON.stringify([key.createdAt.getTime(), key.id])).toString('base64url');
}

function decodeCursor(cursor: string): ApiKeyPosition {
  try {
    const [ms, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (
      typeof ms === 'number' &&
      Number.isSafeInteger(ms) &&
      isStorableTime(new Date(ms)) &&
      typeof id === 'string' &&
      KEY_ID_PATTERN.test(id)
    ) {
      return { createdAt: new Date(ms), id };
    }
  } catch {
    // fall through
  }
  throw new ApiKeyError('invalid_query', 'cursor: not a cursor this server issued');
}

/**
 * Issues, lists, revokes and rotates API keys. The actor comes first; every
 * read and write is scoped to its organisation (another organisation's key
 * is "not found"), and a key can only grant permissions its actor holds.
 */
@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly tokens: ApiKeyTokenService,
    private readonly notifier: RevocationNotifier,
    private readonly audit: AuditWriter,
    private readonly sharedKnownKeys: SharedKnownKeys,
  ) {}

  async create(actor: Actor, input: CreateApiKeyInput): Promise<CreatedApiKeyDto> {
    this.assertMayGrant(actor, input.permissions);
    const now = Date.now();
    const expiresAt = this.lifetimeFor(actor, now, input.expiresIn);
    const key = Object.assign(new ApiKey(), {
      id: newKeyId(),
      name: input.name,
      organizationId: actor.organizationId,
      userId: input.userId ?? actor.userId,
      permissions: [...input.permissions],
      createdBy: this.creatorOf(actor),
      createdAt: new Date(now),
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      revokedReason: null,
    });
    const token = this.sign(key);
    await this.keys.transaction(async (tx) => {
      await this.keys.create(key, tx);
      await this.recordAdmin(tx, actor, 'api_key.create', {
        keyId: key.id,
        name: key.name,
        userId: key.userId,
        permissions: key.permissions,
        expiresAt: key.expiresAt,
      });
    });
    void this.sharedKnownKeys.remember(key.id, key.organizationId);
    this.logger.log({
      message: 'API key created',
      keyId: key.id,
      organizationId: key.organizationId,
      createdBy: key.createdBy,
    });
    return { key: toApiKeyDto(key), token };
  }

  async list(actor: Actor, query: ListApiKeysInput): Promise<ApiKeyPageDto> {
    const now = new Date();
    const rows = await this.keys.listInOrg(actor.organizationId, {
      limit: query.limit + 1,
      after: query.cursor ? decodeCursor(query.cursor) : undefined,
      status: query.status,
      nameContains: query.name,
      now,
    });
    const page = rows.slice(0, query.limit);
    return {
      items: page.map((k) => toApiKeyDto(k, now)),
      nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]) : null,
    };
  }

  async get(actor: Actor, id: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.findOwn(actor, id));
  }

  async revoke(actor: Actor, id: string, reason?: string): Promise<ApiKeyDto> {
    const key = await this.findOwn(actor, id);
    const now = new Date();
    if (statusOf(key, now) === 'revoked')
      throw new ApiKeyError('not_revocable', 'API key is already revoked');
    const why = reason ?? 'revoked';
    await this.keys.transaction(async (tx) => {
      if (!(await this.keys.revoke(key.organizationId, key.id, why, now, tx))) {
        throw new ApiKeyError('not_revocable', 'API key is already revoked');
      }
      await this.recordAdmin(tx, actor, 'api_key.revoke', { keyId: key.id, reason: why, revokedAt: now });
    });
    await this.notifier.announce({ keyId: key.id, revokedAt: now });
    this.logger.log({
      message: 'API key revoked',
      keyId: key.id,
      organizationId: key.organizationId,
      by: this.creatorOf(actor),
    });
    return toApiKeyDto(Object.assign(key, { revokedAt: now, revokedReason: why }), now);
  }

  /**
   * A new key with the same name, user and grants (and the same lifetime,
   * counted from now, but never past an expiring actor's own expiry); the
   * old one is revoked now or after `graceSeconds`.
   */
  async rotate(actor: Actor, id: string, input: RotateApiKeyInput = {}): Promise<RotatedApiKeyDto> {
    const old = await this.findOwn(actor, id);
    const now = Date.now();
    if (old.revokedAt || statusOf(old, new Date(now)) !== 'active') throw notRotatable(old, now);
    this.assertMayGrant(actor, old.permissions);
    const lifetime = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : undefined;
    const successor = Object.assign(new ApiKey(), {
      id: newKeyId(),
      name: old.name,
      organizationId: old.organizationId,
      userId: old.userId,
      permissions: [...old.permissions],
      createdBy: this.creatorOf(actor),
      createdAt: new Date(now),
      expiresAt: capAt(
        lifetime !== undefined ? wholeSeconds(now + Math.max(lifetime, 60_000)) : null,
        actorExpiry(actor),
      ),
      lastUsedAt: null,
      revokedAt: null,
      revokedReason: null,
    });
    const token = this.sign(successor);
    const revokeAt = new Date(now + (input.graceSeconds ?? 0) * 1000);
    const reason = `rotated to ${successor.id}`;
    await this.keys.transaction(async (tx) => {
      // Rotated or revoked by another call meanwhile.
      if (!(await this.keys.rotate(old, successor, revokeAt, reason, tx))) {
        throw new ApiKeyError(
          'not_rotatable',
          'Only an active key that is not already being rotated can be rotated: another call rotated or revoked it just now',
        );
      }
      await this.recordAdmin(tx, actor, 'api_key.rotate', {
        keyId: old.id,
        successorId: successor.id,
        revokedAt: revokeAt,
        graceSeconds: input.graceSeconds ?? 0,
      });
    });
    void this.sharedKnownKeys.remember(successor.id, successor.organizationId);
    await this.notifier.announce({ keyId: old.id, revokedAt: revokeAt });
    this.logger.log({
      message: 'API key rotated',
      keyId: old.id,
      successorId: successor.id,
      organizationId: old.organizationId,
      revokedAt: revokeAt.toISOString(),
      by: this.creatorOf(actor),
    });
    const nowDate = new Date(now);
    return {
      key: toApiKeyDto(successor, nowDate),
      token,
      previous: toApiKeyDto(Object.assign(old, { revokedAt: revokeAt, revokedReason: reason }), nowDate),
    };
  }

  /**
   * The audit record of a key change, written in the change's transaction
   * (both commit or neither does). The actor's key (or `system:<tool>` for
   * the command line) is `key_id`; the target key and the change's facts go
   * into the argument digest. Never a token. Request fields (ip, user agent,
   * request id) come from the current request, when there is one.
   */
  private recordAdmin(
    tx: EntityManager,
    actor: Actor,
    action: string,
    facts: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.recordInTransaction(tx, {
      kind: 'admin',
      action,
      outcome: 'success',
      organizationId: actor.organizationId,
      // Who acted: a key's holder; the command line is no user (the user a key is for is in the facts).
      userId: isSystem(actor) ? null : actor.userId,
      keyId: this.creatorOf(actor),
      args: facts,
    });
  }

  private async findOwn(actor: Actor, id: string): Promise<ApiKey> {
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) throw ApiKeyError.notFound();
    const key = await this.keys.findInOrg(actor.organizationId, id);
    if (!key) throw ApiKeyError.notFound();
    return key;
  }

  private assertMayGrant(actor: Actor, permissions: readonly string[]): void {
    if (isSystem(actor)) return;
    for (const p of permissions) {
      if (!hasPermission(actor.permissions, p as Permission)) {
        throw new ApiKeyError('permission_not_held', `This key cannot grant "${p}": it does not hold it`, p);
      }
    }
  }

  /**
   * The expiry of a key `actor` creates: `expiresIn` seconds from `now`
   * (none: never). An expiring actor can only issue keys that expire no later
   * than itself, as it can only grant permissions it holds: without
   * `expiresIn` the new key expires with it; a longer `expiresIn` is refused.
   */
  private lifetimeFor(actor: Actor, now: number, expiresIn: number | undefined): Date | null {
    const asked = expiresIn !== undefined ? wholeSeconds(now + expiresIn * 1000) : null;
    const limit = actorExpiry(actor);
    if (!limit) return asked;
    if (!asked) return limit;
    if (asked.getTime() <= limit.getTime()) return asked;
    const most = Math.max(0, Math.floor((limit.getTime() - now) / 1000));
    throw new ApiKeyError(
      'lifetime_not_held',
      `This key expires at ${limit.toISOString()}: it cannot issue a key that outlives it ` +
        `(expiresIn of at most ${most} seconds)`,
    );
  }

  private creatorOf(actor: Actor): string {
    return isSystem(actor) ? `system:${actor.tool}` : actor.keyId;
  }

  private sign(key: ApiKey): string {
    return this.tokens.sign({
      keyId: key.id,
      userId: key.userId,
      organizationId: key.organizationId,
      permissions: key.permissions,
      ...(key.expiresAt ? { expiresAt: key.expiresAt } : {}),
    });
  }
}
