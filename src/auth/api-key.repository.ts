import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, EntityManager, Repository } from 'typeorm';
import { runInTransaction, runStandaloneWrite } from '../database/database-write-gate';
import { ApiKey } from './api-key.entity';

export type ApiKeyStatusFilter = 'active' | 'revoked' | 'expired';

/** A position in the (created_at DESC, id DESC) order of a listing. */
export interface ApiKeyPosition {
  createdAt: Date;
  id: string;
}

export interface ApiKeyListQuery {
  limit: number;
  /** Rows strictly after this position. */
  after?: ApiKeyPosition;
  status?: ApiKeyStatusFilter;
  /** Case-insensitive substring of the name. */
  nameContains?: string;
  /** The instant `status` is judged at. */
  now: Date;
}

export interface RevokedKey {
  id: string;
  revokedAt: Date;
}

/** What the guard needs to know about a key id it has not seen yet. */
export interface KeyRecordState {
  id: string;
  organizationId: string;
  revokedAt: Date | null;
}

export interface KeyUse {
  id: string;
  at: Date;
}

const TOUCH_CHUNK = 500;

/**
 * The only code that touches the ORM for `api_keys`. Every read and write a
 * caller can reach is scoped by organisation; the unscoped reads serve the
 * guard (revoked set, key lookup) and never leave the auth feature.
 */
@Injectable()
export class ApiKeyRepository {
  constructor(@InjectRepository(ApiKey) private readonly repo: Repository<ApiKey>) {}

  /**
   * Runs `work` in one database transaction. The writes below take its
   * manager, so a change and the audit record of it (AuditWriter.recordInTransaction
   * with the same manager) commit or roll back together. Goes through the
   * write gate (src/database/database-write-gate.ts): on SQLite no other
   * request's write slips into it.
   */
  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return runInTransaction(this.repo.manager.connection, work);
  }

  /** Inserts a key (in `tx` when given). */
  async create(key: ApiKey, tx?: EntityManager): Promise<ApiKey> {
    await this.writing(tx, (em) => em.insert(ApiKey, key));
    return key;
  }

  findInOrg(organizationId: string, id: string): Promise<ApiKey | null> {
    return this.repo.findOneBy({ organizationId, id });
  }

  /** One page in (created_at DESC, id DESC) order; returns up to `limit` rows. */
  listInOrg(organizationId: string, query: ApiKeyListQuery): Promise<ApiKey[]> {
    const qb = this.repo
      .createQueryBuilder('k')
      .where('k.organization_id = :organizationId', { organizationId })
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(query.limit);
    if (query.after) {
      const { createdAt, id } = query.after;
      qb.andWhere(
        new Brackets((w) =>
          w
            .where('k.created_at < :afterAt', { afterAt: createdAt })
            .orWhere('(k.created_at = :afterAt AND k.id < :afterId)', { afterAt: createdAt, afterId: id }),
        ),
      );
    }
    const now = query.now;
    if (query.status === 'revoked') {
      qb.andWhere('k.revoked_at IS NOT NULL AND k.revoked_at <= :now', { now });
    } else if (query.status === 'expired') {
      qb.andWhere('(k.revoked_at IS NULL OR k.revoked_at > :now)', { now });
      qb.andWhere('k.expires_at IS NOT NULL AND k.expires_at <= :now', { now });
    } else if (query.status === 'active') {
      qb.andWhere('(k.revoked_at IS NULL OR k.revoked_at > :now)', { now });
      qb.andWhere('(k.expires_at IS NULL OR k.expires_at > :now)', { now });
    }
    if (query.nameContains) {
      const pattern = `%${query.nameContains.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere("LOWER(k.name) LIKE :pattern ESCAPE '\\'", { pattern });
    }
    return qb.getMany();
  }

  /**
   * Sets the revocation time of a key that is not revoked by `at` (it may be
   * scheduled for later: revoking now brings it forward). False when no such
   * key exists in the organisation or it was already revoked by then.
   * Runs in `tx` when given.
   */
  async revoke(
    organizationId: string,
    id: string,
    reason: string,
    at: Date,
    tx?: EntityManager,
  ): Promise<boolean> {
    const result = await this.writing(tx, (em) =>
      em
        .createQueryBuilder()
        .update(ApiKey)
        .set({ revokedAt: at, revokedReason: reason })
        .where('organization_id = :organizationId AND id = :id', { organizationId, id })
        .andWhere('(revoked_at IS NULL OR revoked_at > :at)', { at })
        .execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Rotation in one transaction (`tx`, or one of its own): inserts the
   * successor and schedules the predecessor's revocation at `revokeAt` (now,
   * or after a grace period). False (and nothing written) when the
   * predecessor is no longer revocable.
   */
  async rotate(
    predecessor: ApiKey,
    successor: ApiKey,
    revokeAt: Date,
    reason: string,
    tx?: EntityManager,
  ): Promise<boolean> {
    const run = async (em: EntityManager): Promise<boolean> => {
      const result = await em
        .createQueryBuilder()
        .update(ApiKey)
        .set({ revokedAt: revokeAt, revokedReason: reason })
        .where('organization_id = :organizationId AND id = :id', {
          organizationId: predecessor.organizationId,
          id: predecessor.id,
        })
        .andWhere('revoked_at IS NULL')
        .execute();
      if ((result.affected ?? 0) === 0) return false;
      await em.insert(ApiKey, successor);
      return true;
    };
    return tx ? run(tx) : this.transaction(run);
  }

  /** Every key with a revocation time, past or scheduled (the partial index idx_api_keys_revoked). */
  async listRevoked(): Promise<RevokedKey[]> {
    const rows = await this.repo
      .createQueryBuilder('k')
      .select(['k.id', 'k.revokedAt'])
      .where('k.revoked_at IS NOT NULL')
      .getMany();
    return rows.map((r) => ({ id: r.id, revokedAt: r.revokedAt as Date }));
  }

  /** The state the guard caches for a key id; null when no record has it. */
  async findState(id: string): Promise<KeyRecordState | null> {
    const row = await this.repo
      .createQueryBuilder('k')
      .select(['k.id', 'k.organizationId', 'k.revokedAt'])
      .where('k.id = :id', { id })
      .getOne();
    return row ? { id: row.id, organizationId: row.organizationId, revokedAt: row.revokedAt } : null;
  }

  /**
   * Records when keys were last used: one UPDATE per 500 keys, never moving
   * a time backwards (another instance may have written a later one).
   */
  touchLastUsed(uses: readonly KeyUse[]): Promise<void> {
    return runStandaloneWrite(this.repo.manager.connection, () => this.touchChunks(uses));
  }

  private async touchChunks(uses: readonly KeyUse[]): Promise<void> {
    for (let i = 0; i < uses.length; i += TOUCH_CHUNK) {
      const chunk = uses.slice(i, i + TOUCH_CHUNK);
      const params: Record<string, unknown> = {};
      // PostgreSQL types bare parameters inside CASE as text; SQLite keeps TypeORM's datetime text.
      const at = (j: number) => (this.isPostgres() ? `CAST(:at${j} AS timestamptz)` : `:at${j}`);
      const cases = chunk
        .map((u, j) => {
          params[`id${j}`] = u.id;
          params[`at${j}`] = u.at;
          return `WHEN :id${j} THEN ${at(j)}`;
        })
        .join(' ');
      const ids = chunk.map((u) => u.id);
      const next = `CASE id ${cases} END`;
      await this.repo
        .createQueryBuilder()
        .update(ApiKey)
        .set({ lastUsedAt: () => next })
        .where('id IN (:...ids)', { ids })
        .andWhere(`(last_used_at IS NULL OR last_used_at < ${next})`)
        .setParameters(params)
        .execute();
    }
  }

  /** `work` in `tx` when given, else as a standalone write through the gate. */
  private writing<T>(tx: EntityManager | undefined, work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (tx) return work(tx);
    return runStandaloneWrite(this.repo.manager.connection, () => work(this.repo.manager));
  }

  private isPostgres(): boolean {
    return this.repo.manager.connection.options.type === 'postgres';
  }
}
