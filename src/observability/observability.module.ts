import {
  DynamicModule,
  Global,
  Inject,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationShutdown,
} from '@nestjs/common';
import { WINSTON_MODULE_PROVIDER, WinstonModule } from 'nest-winston';
import type { Logger } from 'winston';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { ElasticsearchTransport } from './elasticsearch.transport';
import { createLoggerOptions, LoggerOutputOptions, LogSink, reportSinkFailures } from './logger.factory';
import { RequestIdMiddleware } from './request-id.middleware';

/** How long shutdown waits for Elasticsearch to take the last buffered lines. */
const SHUTDOWN_FLUSH_MS = 3_000;

export interface ObservabilityOptions extends LoggerOutputOptions {
  /** Extra log sinks (tests capture lines with a PassThrough or a custom transport). */
  sinks?: LogSink[];
}

/**
 * Logging and request ids. Provides the winston logger to nest-winston
 * (WINSTON_MODULE_PROVIDER, WINSTON_MODULE_NEST_PROVIDER) and gives every
 * route a request id. In main/app factory:
 *
 *   app.useLogger(app.get(WINSTON_MODULE_NEST_PROVIDER));
 *
 * then log with `private readonly logger = new Logger(MyService.name)`.
 * Requires ConfigModule (global) for APP_CONFIG. On shutdown, lines still
 * buffered for Elasticsearch are sent (bounded by SHUTDOWN_FLUSH_MS).
 */
@Global()
@Module({})
export class ObservabilityModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(WINSTON_MODULE_PROVIDER) private readonly logger: Logger) {
    reportSinkFailures(logger);
  }

  static forRoot(options: ObservabilityOptions = {}): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [
        WinstonModule.forRootAsync({
          useFactory: (config: AppConfig) => createLoggerOptions(config, options.sinks ?? [], options),
          inject: [APP_CONFIG],
        }),
      ],
      providers: [RequestIdMiddleware],
      exports: [WinstonModule],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // The access log is installed in createApp, before the Origin gate and the per-IP limit.
    consumer.apply(RequestIdMiddleware).forRoutes('{*path}');
  }

  /** Nest shuts global modules down after feature modules, so their shutdown lines ship too. Never throws. */
  async onApplicationShutdown(): Promise<void> {
    const shippers = this.logger.transports.filter((t) => t instanceof ElasticsearchTransport);
    await Promise.all(shippers.map((transport) => transport.flush(SHUTDOWN_FLUSH_MS)));
    for (const transport of shippers) transport.close();
  }
}
