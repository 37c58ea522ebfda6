import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSourceOptions } from 'typeorm';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig } from '../config/config.types';
import { AuditPartitionsMaintainer } from './audit-partitions.maintainer';
import { buildDataSourceOptions, DataSourceOverrides } from './data-source-options';
import { DatabaseUnavailableFilter } from './database-unavailable.filter';
import { DatabaseHealthIndicator } from './database.health';
import { initializeWithRetries } from './open-data-source';

export interface DatabaseModuleOptions {
  /** PostgreSQL schema override (tests); see DataSourceOverrides.schema. */
  schema?: DataSourceOverrides['schema'];
  /** Connection attempts at boot before giving up (default 3, 2 s apart). */
  retryAttempts?: number;
  retryDelayMs?: number;
}

/**
 * The TypeORM data source for the configured shape, global. Feature modules
 * register their entities with `TypeOrmModule.forFeature([...])`
 * (`autoLoadEntities`) and inject repositories or the `DataSource`.
 * Migrations run at boot when `config.runMigrations` is on. A request the
 * database failed (unreachable, overloaded, timed out) answers 503
 * `database_unavailable` (DatabaseUnavailableFilter).
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions = {}): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            ...buildDataSourceOptions(config, { schema: options.schema }),
            autoLoadEntities: true,
            // The retries are initializeWithRetries' (its lines say which attempt, and give up once).
            toRetry: () => false,
          }),
          dataSourceFactory: (dataSourceOptions?: DataSourceOptions) =>
            initializeWithRetries(
              dataSourceOptions as DataSourceOptions,
              options.retryAttempts ?? 3,
              options.retryDelayMs ?? 2000,
            ),
        }),
        TerminusModule,
      ],
      providers: [
        DatabaseHealthIndicator,
        AuditPartitionsMaintainer,
        // Requests the database failed answer 503 database_unavailable, not 500.
        { provide: APP_FILTER, useClass: DatabaseUnavailableFilter },
      ],
      exports: [DatabaseHealthIndicator, AuditPartitionsMaintainer],
    };
  }
}
