import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import { Public } from '../common/public.decorator';
import { DatabaseHealthIndicator } from '../database/database.health';
import { StoreHealthIndicator } from '../store/store.health';
import { cachedFor } from './cached-for';

/** How long one readiness answer of each store is reused. */
const READINESS_CACHE_MS = 1_000;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  private readonly readiness: HealthIndicatorFunction[];

  constructor(
    private readonly health: HealthCheckService,
    database: DatabaseHealthIndicator,
    store: StoreHealthIndicator,
  ) {
    // Each store is asked at most once a second, however often probes (or anyone) call.
    this.readiness = [
      cachedFor(() => database.check(), READINESS_CACHE_MS),
      cachedFor(() => store.check(), READINESS_CACHE_MS),
    ];
  }

  /** Liveness: 200 while the process serves HTTP. */
  @Get()
  @ApiOperation({ summary: 'Liveness probe' })
  live() {
    return { status: 'ok' };
  }

  /** Readiness: the database and (in the cluster shape) Redis answer; 503 names the failing check. */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness probe: database and store' })
  ready() {
    return this.health.check(this.readiness);
  }
}
