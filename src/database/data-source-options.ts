import { BoundedPgClient } from './bounded-pg-client';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/config.types';
import { MIGRATIONS } from './migrations-list';

/** Table TypeORM records applied migrations in. */
export const MIGRATIONS_TABLE = 'migrations';

/** Milliseconds a SQLite write waits on a locked database before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** Milliseconds a new PostgreSQL connection may take before it fails (pg's default is forever). */
export const PG_CONNECT_TIMEOUT_MS = 5000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface DataSourceOverrides {
  /**
   * PostgreSQL only (ignored for SQLite): put every table, the migrations table
   * and the audit partitions in this schema, and make it the connection's
   * search_path. Tests use one per file; `initializeDataSource` creates it.
   */
  schema?: string;
  /** Entity classes; under Nest use `autoLoadEntities` (DatabaseModule does) instead. */
  entities?: NonNullable<DataSourceOptions['entities']>;
  /** Defaults to `config.runMigrations`. */
  migrationsRun?: boolean;
  /**
   * Open only a database that is already there: no SQLite file or directory is
   * made (a missing file is a `DatabaseMissingError`) and no PostgreSQL schema
   * is created. For commands that read, such as `audit verify`.
   */
  existingOnly?: boolean;
}

/** `existingOnly` was asked for and there is nothing to open. */
export class DatabaseMissingError extends Error {}

/**
 * TypeORM options for the configured shape: a SQLite file in DATA_DIR
 * (embedded) or PostgreSQL (cluster). The schema comes only from the
 * migration classes in `migrations/`; `synchronize` is always off.
 */
export function buildDataSourceOptions(
  config: AppConfig,
  overrides: DataSourceOverrides = {},
): DataSourceOptions {
  const common = {
    entities: overrides.entities ?? [],
    migrations: MIGRATIONS,
    migrationsRun: overrides.migrationsRun ?? config.runMigrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    dropSchema: false,
    // TypeORM's own logger prints failed queries with their parameters (ciphertexts, key ids) to the
    // console, past the app's redaction; errors reach the caller as exceptions instead.
    logging: false,
  };
  const db = config.database;

  if (db.kind === 'sqlite') {
    if (overrides.existingOnly && db.path !== ':memory:' && !existsSync(db.path)) {
      throw new DatabaseMissingError(`no SQLite database at ${db.path}`);
    }
    if (db.path !== ':memory:') {
      mkdirSync(dirname(db.path), { recursive: true, mode: 0o700 });
      // Owner-only, like the secrets beside it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(db.path, 'a', 0o600));
      chmodSync(db.path, 0o600);
    }
    return {
      ...common,
      type: 'better-sqlite3',
      database: db.path,
      // TypeORM turns `foreign_keys` on for every connection; WAL lets readers run beside the writer.
      enableWAL: true,
      timeout: SQLITE_BUSY_TIMEOUT_MS,
    };
  }

  const schema =
    overrides.schema ?? (config.database.kind === 'postgres' ? config.database.schema : undefined);
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error('Database schema override must be a lower-case identifier');
  }
  return {
    ...common,
    type: 'postgres',
    url: db.url,
    ssl: db.ssl ? { rejectUnauthorized: true } : false,
    applicationName: config.appName,
    connectTimeoutMS: PG_CONNECT_TIMEOUT_MS,
    ...(schema ? { schema } : {}),
    extra: {
      max: db.poolSize,
      // Sent in each connection's startup packet: a statement held by a lock or a slow server is
      // cancelled by PostgreSQL itself, which frees its connection (a client-side timer would not).
      ...(db.statementTimeoutMs > 0 ? { statement_timeout: db.statementTimeoutMs } : {}),
      // An answer that never comes (packets lost, not refused) is given up on the client, and the
      // connection with it (BoundedPgClient), so a call cannot wait on it for TCP's own timeouts.
      Client: BoundedPgClient,
      ...(db.queryTimeoutMs > 0 ? { query_timeout: db.queryTimeoutMs } : {}),
      // Raw SQL (migrations, reports) resolves unqualified names in the same schema as the entities.
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    },
  };
}
