import { DynamicModule, Global, Inject, Module } from '@nestjs/common';
import { ShutdownClock } from '../common/shutdown-clock';
import { AppConfig } from './config.types';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injects the typed configuration parsed at boot. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      // The process's stop deadline goes with its configuration: one per process, global.
      providers: [{ provide: APP_CONFIG, useValue: config }, ShutdownClock],
      exports: [APP_CONFIG, ShutdownClock],
    };
  }
}
