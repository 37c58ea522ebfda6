import { MigrationInterface, QueryRunner } from 'typeorm';
import { ensureAuditPartitions, quoteIdent } from '../src/database/audit-partitions';

/**
 * The first schema: api_keys, encrypted_credentials, audit_logs.
 *
 * Portable between SQLite and PostgreSQL. Differences:
 * - timestamps are `timestamptz` on PostgreSQL and `datetime` on SQLite (TypeORM's UTC text
 *   `YYYY-MM-DD HH:MM:SS.SSS`, which sorts as time); entities map them with a `Date` property
 *   and no explicit column type.
 * - binary values of encrypted_credentials (ciphertext, iv, auth_tag, wrapped_key) are base64 text
 *   on both, so one entity fits both (see src/database/column-transformers.ts). wrapped_key is one
 *   blob: the wrap's iv (12) || tag (16) || wrapped data key (32), as EnvelopeCipher produces it.
 * - encrypted_credentials.id: `uuid DEFAULT gen_random_uuid()` on PostgreSQL, varchar(36) on SQLite
 *   (TypeORM's `@PrimaryGeneratedColumn('uuid')` fills it in there).
 * - audit_logs on PostgreSQL is `PARTITION BY RANGE (occurred_at)`: primary key (id, occurred_at),
 *   monthly partitions plus a default one, and the writer/seq unique index has to include
 *   occurred_at (PostgreSQL requires the partition key in every unique index). On SQLite the
 *   primary key is id and the unique index is exactly (writer_id, seq).
 * - encrypted_credentials uniqueness treats a NULL user_id as one value through an expression
 *   index on (organization_id, COALESCE(user_id, ''), service).
 */
export class InitialSchema1795780800000 implements MigrationInterface {
  name = 'InitialSchema1795780800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { pg, t, ts, now } = dialectOf(queryRunner);

    await queryRunner.query(`
      CREATE TABLE ${t('api_keys')} (
        id varchar(64) NOT NULL PRIMARY KEY,
        name varchar(200) NOT NULL,
        organization_id varchar(64) NOT NULL,
        user_id varchar(64) NOT NULL,
        permissions text NOT NULL,
        created_by varchar(64) NOT NULL,
        created_at ${ts} NOT NULL DEFAULT ${now},
        expires_at ${ts} NULL,
        last_used_at ${ts} NULL,
        revoked_at ${ts} NULL,
        revoked_reason varchar(500) NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_api_keys_org_created ON ${t('api_keys')} (organization_id, created_at)`,
    );
    await queryRunner.query(
      `CREATE INDEX idx_api_keys_active ON ${t('api_keys')} (organization_id, created_at) WHERE revoked_at IS NULL`,
    );
    // Revocation polling (the Redis-down fallback) reads "revoked since <t>".
    await queryRunner.query(
      `CREATE INDEX idx_api_keys_revoked ON ${t('api_keys')} (revoked_at) WHERE revoked_at IS NOT NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE ${t('encrypted_credentials')} (
        id ${pg ? 'uuid NOT NULL DEFAULT gen_random_uuid()' : 'varchar(36) NOT NULL'} PRIMARY KEY,
        organization_id varchar(64) NOT NULL,
        user_id varchar(64) NULL,
        service varchar(100) NOT NULL,
        ciphertext text NOT NULL,
        iv varchar(64) NOT NULL,
        auth_tag varchar(64) NOT NULL,
        wrapped_key varchar(128) NOT NULL,
        key_id varchar(64) NOT NULL,
        fingerprint varchar(128) NULL,
        created_at ${ts} NOT NULL DEFAULT ${now},
        updated_at ${ts} NOT NULL DEFAULT ${now}
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX uq_encrypted_credentials_scope ON ${t('encrypted_credentials')}
        (organization_id, (COALESCE(user_id, '')), service)`,
    );
    await queryRunner.query(
      `CREATE INDEX idx_encrypted_credentials_org_service ON ${t('encrypted_credentials')} (organization_id, service)`,
    );

    const auditColumns = `
        occurred_at ${ts} NOT NULL DEFAULT ${now},
        organization_id varchar(64) NULL,
        user_id varchar(64) NULL,
        key_id varchar(64) NULL,
        kind varchar(32) NOT NULL,
        action varchar(200) NOT NULL,
        outcome varchar(32) NOT NULL,
        status integer NULL,
        error_code varchar(100) NULL,
        duration_ms integer NULL,
        ip varchar(64) NULL,
        user_agent varchar(512) NULL,
        request_id varchar(128) NULL,
        args_digest varchar(128) NULL,
        args text NULL,
        writer_id varchar(64) NOT NULL,
        seq bigint NOT NULL,
        prev_hash varchar(128) NULL,
        hash varchar(128) NOT NULL`;
    if (pg) {
      await queryRunner.query(`
        CREATE TABLE ${t('audit_logs')} (
          id bigserial NOT NULL,${auditColumns},
          PRIMARY KEY (id, occurred_at)
        ) PARTITION BY RANGE (occurred_at)`);
      await queryRunner.query(
        `CREATE TABLE ${t('audit_logs_default')} PARTITION OF ${t('audit_logs')} DEFAULT`,
      );
    } else {
      await queryRunner.query(`
        CREATE TABLE ${t('audit_logs')} (
          id integer NOT NULL PRIMARY KEY,${auditColumns}
        )`);
    }
    for (const [name, column] of [
      ['idx_audit_logs_org_time', 'organization_id'],
      ['idx_audit_logs_user_time', 'user_id'],
      ['idx_audit_logs_key_time', 'key_id'],
      ['idx_audit_logs_kind_time', 'kind'],
    ]) {
      await queryRunner.query(`CREATE INDEX ${name} ON ${t('audit_logs')} (${column}, occurred_at DESC)`);
    }
    await queryRunner.query(
      `CREATE UNIQUE INDEX uq_audit_logs_writer_seq ON ${t('audit_logs')} (writer_id, seq${pg ? ', occurred_at' : ''})`,
    );
    if (pg) await ensureAuditPartitions(queryRunner, new Date(), 2);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = tableNamer(queryRunner);
    // Dropping a table drops its indexes; dropping the partitioned parent drops every partition.
    await queryRunner.query(`DROP TABLE ${t('audit_logs')}`);
    await queryRunner.query(`DROP TABLE ${t('encrypted_credentials')}`);
    await queryRunner.query(`DROP TABLE ${t('api_keys')}`);
  }
}

/** Qualifies names with the DataSource's PostgreSQL schema when one is set. */
export function tableNamer(queryRunner: QueryRunner): (name: string) => string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  return (name) => (schema ? `${quoteIdent(schema)}.${quoteIdent(name)}` : quoteIdent(name));
}

/**
 * What a migration writes differently per dialect: whether it is PostgreSQL,
 * table names (schema-qualified there when the DataSource has a schema), the
 * timestamp column type and the SQL for "now" in the form the entities read.
 */
export function dialectOf(queryRunner: QueryRunner) {
  const pg = queryRunner.connection.options.type === 'postgres';
  return {
    pg,
    t: tableNamer(queryRunner),
    ts: pg ? 'timestamptz' : 'datetime',
    now: pg ? 'now()' : "(strftime('%Y-%m-%d %H:%M:%f', 'now'))",
  };
}
