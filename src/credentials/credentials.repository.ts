import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { EntityManager, IsNull, Repository, WhereExpressionBuilder } from 'typeorm';
import { base64Buffer } from '../database/column-transformers';
import { runInTransaction, runStandaloneWrite } from '../database/database-write-gate';
import type { CredentialPlace, SealedSecret } from './crypto/envelope-cipher';
import { EncryptedCredential } from './encrypted-credential.entity';

/** The sealed columns, which `select: false` keeps out of every other read. */
const SEALED_COLUMNS = ['ciphertext', 'iv', 'authTag', 'wrappedKey'] as const;

/** What a record's metadata read returns (no sealed columns loaded). */
export type CredentialMetadataRow = Omit<EncryptedCredential, (typeof SEALED_COLUMNS)[number]>;

/**
 * Which sealed value a read saw: its iv, tag and ciphertext, which every seal
 * makes anew (random iv, fresh data key), so a record written since differs in
 * all three; a re-wrap under another master key keeps them (the value is the
 * same).
 */
export interface SealedRevision {
  readonly iv: Buffer;
  readonly authTag: Buffer;
  readonly ciphertext: Buffer;
}

export interface KeyCount {
  keyId: string;
  count: number;
}

const toBase64 = (b: Buffer): string => base64Buffer.to(b) as string;

/**
 * The only code that touches the ORM for `encrypted_credentials`. Every read
 * and write of a record is addressed by its full place (organisation, user or
 * null, service); only the rotation methods work across organisations, and
 * they never leave the credentials feature.
 */
@Injectable()
export class CredentialsRepository {
  constructor(
    @InjectRepository(EncryptedCredential) private readonly repo: Repository<EncryptedCredential>,
  ) {}

  /**
   * Runs `work` in one database transaction: `upsert` and `delete` given its
   * manager write in it, so a change and its audit record
   * (AuditWriter.recordInTransaction with the same manager) commit together.
   */
  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return runInTransaction(this.repo.manager.connection, work);
  }

  /**
   * Stores or replaces the record at `place` in one statement (the seed's
   * upsert on (organization_id, user_id, service), NULL user as one value):
   * a replacement keeps `id` and `created_at` and moves `updated_at`.
   */
  async upsert(
    place: CredentialPlace,
    sealed: SealedSecret,
    fingerprint: string,
    tx?: EntityManager,
  ): Promise<'created' | 'replaced'> {
    const now = this.nowSql();
    const id = randomUUID();
    // The statement says what it did: a replacement keeps the stored id, so the id it returns is
    // this new one only when it inserted (no check before it, which two first PUTs would both pass).
    const returned = await this.write(tx, (em) =>
      this.query(
        em,
        `INSERT INTO ${this.table()} (id, organization_id, user_id, service, ciphertext, iv, auth_tag,
         wrapped_key, key_id, fingerprint, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${now}, ${now})
       ON CONFLICT (organization_id, (COALESCE(user_id, '')), service) DO UPDATE SET
         ciphertext = excluded.ciphertext, iv = excluded.iv, auth_tag = excluded.auth_tag,
         wrapped_key = excluded.wrapped_key, key_id = excluded.key_id, fingerprint = excluded.fingerprint,
         updated_at = ${now}
       RETURNING id`,
        [
          id,
          place.organizationId,
          place.userId,
          place.service,
          ...this.sealedParams(sealed),
          sealed.keyId,
          fingerprint,
        ],
      ),
    );
    return (returned as Array<{ id: string }>)[0]?.id === id ? 'created' : 'replaced';
  }

  /** The UPDATE of a record's sealed value (and its fingerprint and updated_at), scoped to its place. */
  private updateSealed(place: CredentialPlace, sealed: SealedSecret, fingerprint: string) {
    return this.scoped(
      this.repo
        .createQueryBuilder()
        .update(EncryptedCredential)
        .set({
          ciphertext: sealed.ciphertext,
          iv: sealed.iv,
          authTag: sealed.authTag,
          wrappedKey: sealed.wrappedKey,
          keyId: sealed.keyId,
          fingerprint,
          updatedAt: () => this.nowSql(),
        }),
      place,
    );
  }

  /**
   * Replaces the sealed value only if the record still holds `revision`
   * (compare-and-set in the UPDATE's WHERE, one statement on either
   * database): `changed` when another write replaced it since (nothing is
   * written), `missing` when there is no record (deleted meanwhile).
   */
  async replaceIfUnchanged(
    place: CredentialPlace,
    revision: SealedRevision,
    sealed: SealedSecret,
    fingerprint: string,
  ): Promise<'replaced' | 'changed' | 'missing'> {
    const result = await this.write(undefined, () =>
      this.updateSealed(place, sealed, fingerprint)
        .andWhere('iv = :readIv AND auth_tag = :readTag AND ciphertext = :readCiphertext', {
          readIv: toBase64(revision.iv),
          readTag: toBase64(revision.authTag),
          readCiphertext: toBase64(revision.ciphertext),
        })
        .execute(),
    );
    if ((result.affected ?? 0) > 0) return 'replaced';
    // Which of the two only names the outcome: nothing was written either way.
    return (await this.findMetadata(place)) ? 'changed' : 'missing';
  }

  /** The record with its sealed columns, for decryption. */
  findSealed(place: CredentialPlace): Promise<EncryptedCredential | null> {
    const qb = this.repo.createQueryBuilder('c');
    for (const c of SEALED_COLUMNS) qb.addSelect(`c.${c}`);
    return this.scoped(qb, place, 'c').getOne();
  }

  findMetadata(place: CredentialPlace): Promise<CredentialMetadataRow | null> {
    return this.repo.findOneBy({
      organizationId: place.organizationId,
      userId: place.userId ?? IsNull(),
      service: place.service,
    });
  }

  /** Every record of the organisation, metadata only, by service then user (organisation-wide first). */
  listMetadata(organizationId: string): Promise<CredentialMetadataRow[]> {
    return this.repo
      .createQueryBuilder('c')
      .where('c.organization_id = :organizationId', { organizationId })
      .orderBy('c.service', 'ASC')
      .addOrderBy(`COALESCE(c.user_id, '')`, 'ASC')
      .getMany();
  }

  async delete(place: CredentialPlace, tx?: EntityManager): Promise<boolean> {
    const result = await this.write(tx, (em) =>
      this.scoped(em.createQueryBuilder().delete().from(EncryptedCredential), place).execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Rotation batch: up to `limit` records, with sealed columns, not wrapped by
   * `keyId`, with ids after `afterId` (null: from the start), in id order.
   */
  findNotUnderKey(keyId: string, afterId: string | null, limit: number): Promise<EncryptedCredential[]> {
    const qb = this.repo
      .createQueryBuilder('c')
      .where('c.key_id <> :keyId', { keyId })
      .orderBy('c.id', 'ASC')
      .limit(limit);
    for (const c of SEALED_COLUMNS) qb.addSelect(`c.${c}`);
    if (afterId !== null) qb.andWhere('c.id > :afterId', { afterId });
    return qb.getMany();
  }

  /**
   * Swaps a record's wrapped data key (compare-and-set on the old key id and
   * wrapped key, so a record replaced meanwhile by a PUT or a token refresh is
   * left alone). `updated_at` stays: the secret did not change.
   */
  async updateWrap(
    id: string,
    from: { keyId: string; wrappedKey: Buffer },
    to: { keyId: string; wrappedKey: Buffer; fingerprint: string },
  ): Promise<boolean> {
    const result = await this.write(undefined, () =>
      this.repo
        .createQueryBuilder()
        .update(EncryptedCredential)
        .set({ keyId: to.keyId, wrappedKey: to.wrappedKey, fingerprint: to.fingerprint })
        .where('id = :id AND key_id = :fromKeyId AND wrapped_key = :fromWrapped', {
          id,
          fromKeyId: from.keyId,
          fromWrapped: toBase64(from.wrappedKey),
        })
        .execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /** Records per master key id, across every organisation. */
  async countByKey(): Promise<KeyCount[]> {
    const rows: { keyId: string; count: string | number }[] = await this.repo
      .createQueryBuilder('c')
      .select('c.key_id', 'keyId')
      .addSelect('COUNT(*)', 'count')
      .groupBy('c.key_id')
      .orderBy('c.key_id', 'ASC')
      .getRawMany();
    return rows.map((r) => ({ keyId: r.keyId, count: Number(r.count) }));
  }

  countNotUnderKey(keyId: string): Promise<number> {
    return this.repo.createQueryBuilder('c').where('c.key_id <> :keyId', { keyId }).getCount();
  }

  private scoped<Q extends WhereExpressionBuilder>(qb: Q, place: CredentialPlace, alias?: string): Q {
    const col = (name: string) => (alias ? `${alias}.${name}` : name);
    qb.where(`${col('organization_id')} = :organizationId`, { organizationId: place.organizationId });
    qb.andWhere(`${col('service')} = :service`, { service: place.service });
    if (place.userId === null) qb.andWhere(`${col('user_id')} IS NULL`);
    else qb.andWhere(`${col('user_id')} = :userId`, { userId: place.userId });
    return qb;
  }

  private sealedParams(sealed: SealedSecret): string[] {
    return [sealed.ciphertext, sealed.iv, sealed.authTag, sealed.wrappedKey].map(toBase64);
  }

  /**
   * A write in `tx` when given; else outside any transaction, through the
   * write gate (on SQLite it waits out an open transaction).
   */
  private write<T>(tx: EntityManager | undefined, work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (tx) return work(tx);
    return runStandaloneWrite(this.repo.manager.connection, () => work(this.repo.manager));
  }

  private get isPostgres(): boolean {
    return this.repo.manager.connection.options.type === 'postgres';
  }

  /** The current time as SQL, in the form the column's default uses. */
  private nowSql(): string {
    return this.isPostgres ? 'now()' : `strftime('%Y-%m-%d %H:%M:%f', 'now')`;
  }

  /** The table name, schema-qualified when the data source has a schema. */
  private table(): string {
    const driver = this.repo.manager.connection.driver;
    return this.repo.metadata.tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
  }

  /** Runs SQL written with `?` placeholders on either dialect, through `em`. */
  private query(em: EntityManager, sql: string, params: unknown[]): Promise<unknown> {
    let n = 0;
    const text = this.isPostgres ? sql.replace(/\?/g, () => `$${++n}`) : sql;
    return em.query(text, params);
  }
}
