import { DynamicModule, Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { WinstonModule } from 'nest-winston';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { createLoggerOptions, LoggerOutputOptions, LogSink } from './logger.factory';
import { RequestIdMiddleware } from './request-id.middleware';

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
 * Requires ConfigModule (global) for APP_CONFIG.
 */
@Global()
@Module({})
export class ObservabilityModule implements NestModule {
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
    consumer.apply(RequestIdMiddleware).forRoutes('{*path}');
  }
}
