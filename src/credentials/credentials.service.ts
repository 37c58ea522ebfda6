import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditWriter } from '../audit/audit.writer';
import type { Principal } from '../auth/principal';
import { ID_PATTERN } from '../auth/api-key.schemas';
import { MetricsService } from '../metrics/metrics.service';
import { KeyValueStore, Unsubscribe } from '../store/key-value-store';
import {
  CREDENTIAL_SERVICES,
  CredentialService,
  CredentialValue,
  isCredentialService,
  parseCredential,
} from './credential-schemas';
import { CREDENTIALS_CACHE_OPTIONS, CredentialsCache, CredentialsCacheOptions } from './credentials-cache';
import { CredentialMetadataDto } from './credentials.dto';
import { CredentialsRequestError } from './credentials.errors';
import { CredentialMetadataRow, CredentialsRepository, SealedRevision } from './credentials.repository';
import { CredentialsError } from './crypto/credential-errors';
import { CredentialPlace, EnvelopeCipher } from './crypto/envelope-cipher';
import type { EncryptedCredential } from './encrypted-credential.entity';

/** Pub/sub channel that tells every instance to drop a cached value. Messages name a place, never a secret. */
export const CREDENTIALS_INVALIDATE_CHANNEL = 'credentials:invalidate';

/**
 * A credential change as every instance hears of it on `credentials:invalidate`
 * (which credential and how, never its value). `stored` and `deleted` are an
 * admin's (PUT, DELETE /credentials); `refreshed` is a connector keeping its own credential
 * current (a rotated OAuth token). Absent in a message from an instance that
 * predates the field: then it is not known to be a refresh.
 */
export interface CredentialChange {
  organizationId: string;
  userId: string | null;
  service: string;
  change?: 'stored' | 'deleted' | 'refreshed';
}

/** Which stored value a `readForUpdate` saw; opaque to callers, handed back to `replaceIfUnchanged`. */
export type CredentialRevision = SealedRevision;

export interface CredentialScopeOptions {
  /** A user's own credential; absent or null: the organisation's. */
  userId?: string | null;
}

/**
 * The credentials vault.
 *
 * Admin API (principal first, scoped to the principal's organisation; the
 * route declares the permission): put, list, get (metadata), delete.
 * Connector API, by organisation id: getDecrypted (cached), and
 * readForUpdate with replaceIfUnchanged for a write that must not overwrite
 * one made since it read (a rotated refresh token).
 *
 * Decrypted values are cached in process (LRU with a TTL) as frozen objects.
 * Every write or delete drops the entry here and, through the store's pub/sub
 * channel `credentials:invalidate`, on every other instance. A missed message
 * (Redis down) leaves a value stale for at most the TTL.
 */
@Injectable()
export class CredentialsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CredentialsService.name);
  private readonly cache: CredentialsCache<object>;
  private unsubscribe?: Unsubscribe;
  private readonly watchers = new Set<(change: CredentialChange) => void>();

  constructor(
    private readonly repository: CredentialsRepository,
    private readonly cipher: EnvelopeCipher,
    private readonly store: KeyValueStore,
    private readonly audit: AuditWriter,
    @Inject(CREDENTIALS_CACHE_OPTIONS) cacheOptions: CredentialsCacheOptions,
    /** Counts the cache's hits and misses (`cache_requests_total`); absent where no metrics run. */
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.cache = new CredentialsCache<object>(cacheOptions);
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.store.subscribe(CREDENTIALS_INVALIDATE_CHANNEL, (m) =>
      this.onInvalidate(m),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsubscribe?.();
  }

  /**
   * Calls `listener` with every credential change this instance hears of on
   * the store's channel, its own writes included (in the embedded shape, the
   * writes of another process are not heard). Best effort, as the
   * channel is: a change published while the store is unreachable is missed.
   * Returns the function that stops it.
   */
  watch(listener: (change: CredentialChange) => void): () => void {
    this.watchers.add(listener);
    return () => void this.watchers.delete(listener);
  }

  /**
   * Stores or replaces the credential of `service` after validating `body`
   * for it; the write and its audit record (`credential.put`) commit
   * together or not at all.
   */
  async put(
    principal: Principal,
    service: string,
    body: unknown,
    options: CredentialScopeOptions = {},
  ): Promise<CredentialMetadataDto> {
    return (await this.storeOrReplace(principal, service, body, options)).metadata;
  }

  /** `put`, also saying whether it created the credential (none was stored there) or replaced one. */
  async storeOrReplace(
    principal: Principal,
    service: string,
    body: unknown,
    options: CredentialScopeOptions = {},
  ): Promise<{ metadata: CredentialMetadataDto; created: boolean }> {
    const place = this.place(principal.organizationId, service, options.userId);
    const value = this.validate(place.service as CredentialService, body);
    const plaintext = Buffer.from(JSON.stringify(value), 'utf8');
    let created = false;
    try {
      const sealed = this.cipher.seal(plaintext, place);
      const fingerprint = this.cipher.fingerprint(plaintext, sealed.keyId);
      await this.repository.transaction(async (tx) => {
        created = (await this.repository.upsert(place, sealed, fingerprint, tx)) === 'created';
        await this.recordChange(tx, principal, 'credential.put', place);
      });
    } finally {
      plaintext.fill(0);
    }
    await this.invalidate(place, 'stored');
    this.logChange(created ? 'Credential stored' : 'Credential replaced', principal, place);
    return { metadata: await this.metadataAt(place), created };
  }

  async list(principal: Principal): Promise<CredentialMetadataDto[]> {
    return (await this.repository.listMetadata(principal.organizationId)).map(toMetadataDto);
  }

  /** Metadata of one credential; not_found when none is stored. */
  get(
    principal: Principal,
    service: string,
    options: CredentialScopeOptions = {},
  ): Promise<CredentialMetadataDto> {
    return this.metadataAt(this.place(principal.organizationId, service, options.userId));
  }

  /** Removes a credential, audited in the same transaction (`credential.delete`); not_found when none is stored. */
  async delete(principal: Principal, service: string, options: CredentialScopeOptions = {}): Promise<void> {
    const place = this.place(principal.organizationId, service, options.userId);
    const deleted = await this.repository.transaction(async (tx) => {
      const gone = await this.repository.delete(place, tx);
      if (gone) await this.recordChange(tx, principal, 'credential.delete', place);
      return gone;
    });
    if (deleted) await this.invalidate(place, 'deleted');
    else this.cache.delete(cacheKey(place));
    if (!deleted) throw CredentialsRequestError.notFound(place.service, place.userId);
    this.logChange('Credential deleted', principal, place);
  }

  /** A change's log line, as API keys log theirs: a copy of the trail outside the database (never the value). */
  private logChange(message: string, principal: Principal, place: CredentialPlace): void {
    this.logger.log({
      message,
      service: place.service,
      ...(place.userId ? { credentialUserId: place.userId } : {}),
      organizationId: principal.organizationId,
      keyId: principal.keyId,
    });
  }

  /**
   * The decrypted credentials stored for exactly this place (no fallback from
   * a user to the organisation). The object is frozen and shared: do not
   * mutate it. Throws not_found, or a CredentialsError (decrypt_failed,
   * master_key_unknown, malformed_record) for a record that cannot be read.
   */
  async getDecrypted<S extends CredentialService>(
    organizationId: string,
    service: S,
    userId?: string | null,
  ): Promise<CredentialValue<S>> {
    const place = this.place(organizationId, service, userId);
    const key = cacheKey(place);
    const cached = this.cache.get(key);
    this.metrics?.cacheRequest(cached ? 'hit' : 'miss', 'credentials');
    if (cached) return cached as CredentialValue<S>;

    const epoch = this.cache.epoch;
    const row = await this.repository.findSealed(place);
    if (!row) throw CredentialsRequestError.notFound(place.service, place.userId);
    const value = this.open(row, place);
    this.cache.set(key, value, epoch);
    return value as CredentialValue<S>;
  }

  /**
   * The decrypted credentials as stored now (read from the database, never
   * the cache), with the revision that `replaceIfUnchanged` compares against.
   * Throws as getDecrypted does.
   */
  async readForUpdate<S extends CredentialService>(
    organizationId: string,
    service: S,
    userId?: string | null,
  ): Promise<{ value: CredentialValue<S>; revision: CredentialRevision }> {
    const place = this.place(organizationId, service, userId);
    const row = await this.repository.findSealed(place);
    if (!row) throw CredentialsRequestError.notFound(place.service, place.userId);
    const value = this.open(row, place) as CredentialValue<S>;
    return { value, revision: { iv: row.iv, authTag: row.authTag, ciphertext: row.ciphertext } };
  }

  /**
   * Replaces the stored value (e.g. a rotated OAuth refresh token), validated
   * like a PUT, only if the record is still the one `readForUpdate` returned
   * `revision` for: `changed` when another write (an admin's PUT) replaced it
   * since, and then nothing is written, so that write stands. not_found when
   * the credential was deleted meanwhile (never resurrected). Not audited:
   * it is a connector keeping its own credential current, inside a tool call
   * that is audited; an admin's PUT or DELETE keeps its record.
   */
  async replaceIfUnchanged<S extends CredentialService>(
    organizationId: string,
    service: S,
    revision: CredentialRevision,
    value: CredentialValue<S>,
    userId?: string | null,
  ): Promise<'replaced' | 'changed'> {
    const place = this.place(organizationId, service, userId);
    const valid = this.validate(service, value);
    const plaintext = Buffer.from(JSON.stringify(valid), 'utf8');
    let outcome: 'replaced' | 'changed' | 'missing';
    try {
      const sealed = this.cipher.seal(plaintext, place);
      outcome = await this.repository.replaceIfUnchanged(
        place,
        revision,
        sealed,
        this.cipher.fingerprint(plaintext, sealed.keyId),
      );
    } finally {
      plaintext.fill(0);
    }
    if (outcome === 'replaced') await this.invalidate(place, 'refreshed');
    if (outcome === 'missing') throw CredentialsRequestError.notFound(place.service, place.userId);
    return outcome;
  }

  /** Drops every cached value of this instance (benchmarks; operators after an incident). */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * The audit record of a credential change, in the change's transaction:
   * which credential (service, and user for a user's own), never its value.
   * Request fields (ip, user agent, request id) come from the current request.
   */
  private recordChange(
    tx: EntityManager,
    principal: Principal,
    action: 'credential.put' | 'credential.delete',
    place: CredentialPlace,
  ): Promise<void> {
    return this.audit.recordInTransaction(tx, {
      kind: 'admin',
      action,
      outcome: 'success',
      organizationId: principal.organizationId,
      userId: principal.userId,
      keyId: principal.keyId,
      args: { service: place.service, userId: place.userId },
    });
  }

  /** Decrypts and parses a sealed record into a frozen value; logs (never the value) and throws when it cannot. */
  private open(row: EncryptedCredential, place: CredentialPlace): object {
    let plaintext: Buffer | undefined;
    try {
      plaintext = this.cipher.open(row, place);
      return deepFreeze(JSON.parse(plaintext.toString('utf8')) as object);
    } catch (err) {
      if (err instanceof CredentialsError) {
        this.logger.warn(
          `Stored ${place.service} credential of organisation ${place.organizationId} cannot be read: ${err.code}` +
            (err.keyId ? ` (master key ${JSON.stringify(err.keyId)})` : ''),
        );
        throw err;
      }
      throw CredentialsError.malformed('the decrypted value is not JSON');
    } finally {
      plaintext?.fill(0);
    }
  }

  private async metadataAt(place: CredentialPlace): Promise<CredentialMetadataDto> {
    const row = await this.repository.findMetadata(place);
    if (!row) throw CredentialsRequestError.notFound(place.service, place.userId);
    return toMetadataDto(row);
  }

  private validate<S extends CredentialService>(service: S, body: unknown): CredentialValue<S> {
    const parsed = parseCredential(service, body);
    if (!parsed.ok) throw CredentialsRequestError.invalid(service, parsed.errors);
    return parsed.value;
  }

  private place(organizationId: string, service: string, userId: string | null | undefined): CredentialPlace {
    if (typeof organizationId !== 'string' || organizationId === '') {
      throw new TypeError('CredentialsService: organizationId is required');
    }
    if (!isCredentialService(service))
      throw CredentialsRequestError.unknownService(String(service), CREDENTIAL_SERVICES);
    if (userId !== undefined && userId !== null) {
      if (typeof userId !== 'string' || !ID_PATTERN.test(userId)) {
        throw CredentialsRequestError.invalidUserId();
      }
    }
    return { organizationId, userId: userId ?? null, service };
  }

  /** Drops the value here, then tells the other instances (best effort: the TTL bounds a missed message). */
  private async invalidate(place: CredentialPlace, change: CredentialChange['change']): Promise<void> {
    this.cache.delete(cacheKey(place));
    const message = JSON.stringify({
      organizationId: place.organizationId,
      userId: place.userId,
      service: place.service,
      change,
    } satisfies CredentialChange);
    try {
      await this.store.publish(CREDENTIALS_INVALIDATE_CHANNEL, message);
    } catch (err) {
      this.logger.warn(`Could not publish a credentials invalidation: ${(err as Error)?.message ?? 'error'}`);
    }
  }

  private onInvalidate(message: string): void {
    try {
      const m = JSON.parse(message) as Partial<CredentialChange>;
      if (typeof m.organizationId !== 'string' || typeof m.service !== 'string') throw new Error('bad shape');
      const change: CredentialChange = {
        organizationId: m.organizationId,
        userId: typeof m.userId === 'string' ? m.userId : null,
        service: m.service,
        ...(m.change === 'stored' || m.change === 'deleted' || m.change === 'refreshed'
          ? { change: m.change }
          : {}),
      };
      this.cache.delete(cacheKey(change));
      this.tell(change);
    } catch {
      // Not a message we understand: drop everything rather than keep a value that may be stale.
      this.cache.clear();
    }
  }

  private tell(change: CredentialChange): void {
    for (const watcher of this.watchers) {
      try {
        watcher(change);
      } catch (err) {
        this.logger.warn(`A credentials watcher failed: ${(err as Error)?.message ?? 'error'}`);
      }
    }
  }
}

function cacheKey(place: CredentialPlace): string {
  return JSON.stringify([place.organizationId, place.userId, place.service]);
}

function toMetadataDto(row: CredentialMetadataRow): CredentialMetadataDto {
  return {
    service: row.service,
    userId: row.userId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    keyId: row.keyId,
    fingerprint: row.fingerprint,
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
