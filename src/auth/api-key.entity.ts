import { Column, Entity, PrimaryColumn, ValueTransformer } from 'typeorm';

/** Permissions live in a text column as a JSON array on both databases. */
const jsonStringArray: ValueTransformer = {
  to: (value: readonly string[] | null | undefined) => (value == null ? value : JSON.stringify([...value])),
  from: (value: string | null | undefined): string[] => {
    if (value == null) return [];
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter((p): p is string => typeof p === 'string') : [];
  },
};

/**
 * A row of `api_keys` (migrations/1795780800000-InitialSchema.ts). The id is
 * the JWT `jti`; the token itself is never stored, so there is no column for
 * it. Only ApiKeyRepository touches this class; services map it to DTOs.
 *
 * Times use `type: Date`: `timestamptz` on PostgreSQL, TypeORM's UTC datetime
 * text on SQLite. `revokedAt` may lie in the future: a rotation with a grace
 * period schedules the old key's revocation.
 */
@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ name: 'organization_id', type: 'varchar', length: 64 })
  organizationId: string;

  @Column({ name: 'user_id', type: 'varchar', length: 64 })
  userId: string;

  @Column({ type: 'text', transformer: jsonStringArray })
  permissions: string[];

  @Column({ name: 'created_by', type: 'varchar', length: 64 })
  createdBy: string;

  @Column({ name: 'created_at', type: Date })
  createdAt: Date;

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: Date, nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: Date, nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 500, nullable: true })
  revokedReason: string | null;
}
