import { Logger } from '@nestjs/common';
import { redactString } from '../observability/redact';
import { DataSource, DataSourceOptions, Migration, MigrationExecutor, QueryRunner } from 'typeorm';
import { BoundedPgClient } from './bounded-pg-client';
import { AppConfig } from '../config/config.types';
import { quoteIdent } from './audit-partitions';
import { buildDataSourceOptions, DataSourceOverrides } from './data-source-options';
import { databaseErrorCode, isDatabaseUnavailable } from './database-errors';

/**
 * Initialises a DataSource from `options`: creates the PostgreSQL `schema`
 * override first when one is set, then runs pending migrations when
 * `migrationsRun` is on (each in its own transaction, on PostgreSQL without
 * the connections' statement_timeout: building an index over a large table
 * may take longer than any request should). DatabaseModule uses it
 * as TypeORM's data source factory; the CLI and tests use `openDataSource`.
 */
export async function initializeDataSource(
  options: DataSourceOptions,
  { createSchema = true }: { createSchema?: boolean } = {},
): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  try {
    await dataSource.initialize();
  } catch (err) {
    throw withRemedy(err);
  }
  try {
    if (createSchema && options.type === 'postgres' && options.schema) {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`).catch((err) => {
        // IF NOT EXISTS is not atomic: of two instances booting together on a new schema, one can
        // fail on pg_namespace's unique index (23505) or find it just made (42P06). Either way it exists.
        if (!['23505', '42P06'].includes(databaseErrorCode(err))) throw err;
      });
    }
    if (options.migrationsRun) await runMigrations(dataSource);
    return dataSource;
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
}

/** Names the setting that fixes a refusal the server's words alone do not explain. */
function withRemedy(err: unknown): unknown {
  if (err instanceof Error && /server does not support SSL connections/i.test(err.message))
    err.message +=
      ' (DATABASE_SSL is on, the default in staging and production: set DATABASE_SSL=false for a server without TLS, on a private network only)';
  return err;
}

/**
 * `initializeDataSource`, tried `attempts` times `delayMs` apart while the
 * database is unavailable (refused, unreachable, starting): one warning per
 * failed attempt saying which it was and when the next comes, and an error
 * when it gives up. Any other failure (a migration's SQL, a bad password) is
 * not retried: the same attempt would fail the same way.
 */
export async function initializeWithRetries(
  options: DataSourceOptions,
  attempts: number,
  delayMs: number,
  logger: Pick<Logger, 'warn' | 'error'> = new Logger('Database'),
): Promise<DataSource> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await initializeDataSource(options);
    } catch (err) {
      const why = redactString((err as Error)?.message ?? String(err));
      if (!isDatabaseUnavailable(err) || attempt >= attempts) {
        logger.error(
          isDatabaseUnavailable(err)
            ? `Database unavailable after ${attempts} attempt${attempts === 1 ? '' : 's'} (${why}); giving up`
            : `Database could not be opened (${why})`,
        );
        throw err;
      }
      logger.warn(
        `Database unavailable (attempt ${attempt} of ${attempts}: ${why}); retrying in ${delayMs / 1000} s`,
      );
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** `initializeDataSource(buildDataSourceOptions(config, overrides))`; the caller destroys it. */
export function openDataSource(config: AppConfig, overrides: DataSourceOverrides = {}): Promise<DataSource> {
  return initializeDataSource(buildDataSourceOptions(config, overrides), {
    createSchema: !overrides.existingOnly,
  });
}

/**
 * Runs pending migrations, each in its own transaction, with no statement
 * timeout on PostgreSQL (building an index over a large table may take
 * longer than any request should), one process at a time (an advisory
 * lock); resolves with those applied. The boot and the `migrate` command
 * both use it.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const postgres = dataSource.options.type === 'postgres';
  const runner = dataSource.createQueryRunner();
  if (postgres) {
    // Nor the client-side query timeout: waiting for another instance's migrations is no lost answer.
    const client: unknown = await runner.connect();
    if (client instanceof BoundedPgClient)
      return client.withoutQueryTimeout(() => migrate(dataSource, runner));
  }
  return migrate(dataSource, runner);
}

async function migrate(dataSource: DataSource, runner: QueryRunner): Promise<Migration[]> {
  const postgres = dataSource.options.type === 'postgres';
  const lockArgs = [MIGRATIONS_LOCK_KEY, migrationsSchema(dataSource)];
  let locked = false;
  try {
    if (postgres) {
      await runner.query('SET statement_timeout = 0');
      // Instances booting together take turns: the first migrates, the others then find nothing
      // pending (without the lock, two created the migrations table at once and one failed). One
      // lock per schema: every object the migrations make is in it, so other schemas need not wait.
      await runner.query('SELECT pg_advisory_lock($1, hashtext($2))', lockArgs);
      locked = true;
    }
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    return await executor.executePendingMigrations();
  } finally {
    // Unlock, and RESET to the connection's startup value, before it goes back to the pool.
    try {
      if (locked && !runner.isReleased)
        await runner.query('SELECT pg_advisory_unlock($1, hashtext($2))', lockArgs);
      if (postgres && !runner.isReleased) await runner.query('RESET statement_timeout');
    } finally {
      await runner.release();
    }
  }
}

/**
 * The PostgreSQL advisory lock (session level) under which migrations run:
 * this key ("SENT") and `hashtext(<schema>)`.
 */
export const MIGRATIONS_LOCK_KEY = 0x53454e54;

/** The schema a DataSource migrates (PostgreSQL's default when none is set). */
export const migrationsSchema = (dataSource: DataSource): string =>
  (dataSource.options as { schema?: string }).schema ?? 'public';
