import { Controller, Get, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RequirePermission } from '../auth/auth.decorators';
import { MetricsService } from './metrics.service';
import type { MetricsSummary } from './metrics-summary';

/**
 * `GET /metrics`: Prometheus text, or the JSON view with
 * `Accept: application/json`. Needs `metrics:read`, except when
 * METRICS_PUBLIC is on: the global AuthGuard then lets `/metrics` through
 * without a key (its public-path rule).
 */
@ApiTags('metrics')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @RequirePermission('metrics:read')
  @ApiOperation({
    summary: 'Metrics: Prometheus text format, or a JSON summary with Accept: application/json',
    description:
      'Public when METRICS_PUBLIC=true (default in development and test); else needs metrics:read.',
  })
  @ApiProduces('text/plain', 'application/json')
  @ApiOkResponse({
    description: 'Prometheus exposition format (text/plain; version=0.0.4), or the JSON summary',
  })
  // Only behind a key (METRICS_PUBLIC=false, the default in staging and production).
  @ApiUnauthorizedResponse({ description: 'No valid API key (see WWW-Authenticate); not when public' })
  @ApiForbiddenResponse({ description: 'The key lacks metrics:read; not when public' })
  @ApiTooManyRequestsResponse({
    description:
      'Over the per-key or per-IP rate limit (code rate_limited); retry after Retry-After seconds. ' +
      'Not when public: a public /metrics is exempt from the limits',
  })
  async scrape(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string | MetricsSummary> {
    res.setHeader('Cache-Control', 'no-store');
    res.vary('Accept');
    if (req.accepts(['text/plain', 'application/json']) === 'application/json') return this.metrics.summary();
    res.type(this.metrics.contentType);
    return this.metrics.metrics();
  }
}
