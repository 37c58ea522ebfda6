import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/config.types';
import { quoteIdent } from './audit-partitions';
import { buildDataSourceOptions, DataSourceOverrides } from './data-source-options';

/**
 * Initialises a DataSource from `options`: creates the PostgreSQL `schema`
 * override first when one is set, then runs pending migrations when
 * `migrationsRun` is on (each in its own transaction). DatabaseModule uses it
 * as TypeORM's data source factory; the CLI and tests use `openDataSource`.
 */
export async function initializeDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await dataSource.initialize();
  try {
    if (options.type === 'postgres' && options.schema) {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
    }
    if (options.migrationsRun) await dataSource.runMigrations({ transaction: 'each' });
    return dataSource;
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
}

/** `initializeDataSource(buildDataSourceOptions(config, overrides))`; the caller destroys it. */
export function openDataSource(config: AppConfig, overrides: DataSourceOverrides = {}): Promise<DataSource> {
  return initializeDataSource(buildDataSourceOptions(config, overrides));
}
