import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthCheckLogger } from './health-check.logger';
import { HealthController } from './health.controller';

@Module({
  imports: [
    TerminusModule.forRoot({
      errorLogStyle: 'json',
      gracefulShutdownTimeoutMs: 0,
      logger: HealthCheckLogger,
    }),
  ],
  controllers: [HealthController],
})
export class HealthModule {}
