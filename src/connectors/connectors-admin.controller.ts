import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { AuditRequestContext } from '../audit/audit-request-context';
import { Audited } from '../audit/audit.interceptor';
import { CurrentPrincipal, RequirePermission } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ZodValidationPipe } from '../auth/zod-validation.pipe';
import { RequestContext } from '../observability/request-context';
import { ConnectorHealth } from './connector-health.service';
import {
  CONNECTOR_SERVICES,
  ConnectorCheckDto,
  ConnectorListDto,
  ConnectorsErrorDto,
} from './connectors-admin.dto';

/** Neither route takes a query parameter, and the check takes no body (an empty object is let through). */
const NOTHING = new ZodValidationPipe(z.strictObject({}));

/**
 * Connector health for the caller's organisation: what is stored and this
 * instance's circuit breakers, and a live check of one service. Reading
 * needs what reading the credentials' metadata needs (`credentials:read`);
 * a check uses them but shows nothing of them.
 */
@ApiTags('connectors')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No valid API key (see WWW-Authenticate)' })
@ApiForbiddenResponse({ description: 'The API key lacks credentials:read' })
@RequirePermission('credentials:read')
@Audited()
@Controller('admin/connectors')
export class ConnectorsAdminController {
  constructor(private readonly health: ConnectorHealth) {}

  @Get()
  @ApiOperation({
    summary: "Each service: whether the organisation's credentials are stored, and this instance's circuit",
    description:
      "Metadata only (never a secret). The circuit is the answering instance's own breaker (kept in memory): " +
      'another instance may see another state.',
  })
  @ApiOkResponse({ type: ConnectorListDto })
  @ApiBadRequestResponse({
    type: ConnectorsErrorDto,
    description: 'A query parameter (invalid_query): it takes none',
  })
  list(
    @CurrentPrincipal() principal: Principal,
    @Query(NOTHING) _query: Record<string, never>,
  ): Promise<ConnectorListDto> {
    return this.health.list(principal);
  }

  @Post(':service/check')
  @HttpCode(200)
  @ApiOperation({
    summary: "Make one cheap, read-only call to the service with the organisation's stored credentials",
    description:
      'Live (never a cached answer), through the usual path: timeouts, retries, circuit breaker, quotas, ' +
      "Xero's token refresh. Xero: GET /connections; Shopify: the shop's name; Unleashed: one product; " +
      'Anthropic and OpenAI: the models list. A check that fails is still a 200, with ok false and the ' +
      'code and message a tool call would get (credentials_missing, upstream_rejected_credentials, ...).',
  })
  @ApiParam({ name: 'service', enum: CONNECTOR_SERVICES, description: 'The third-party service' })
  @ApiOkResponse({ type: ConnectorCheckDto })
  @ApiBadRequestResponse({
    type: ConnectorsErrorDto,
    description: 'A query parameter (invalid_query) or a body field (invalid_body): it takes neither',
  })
  @ApiNotFoundResponse({
    type: ConnectorsErrorDto,
    description: 'Unknown service (unknown_service names them)',
  })
  async check(
    @CurrentPrincipal() principal: Principal,
    @Param('service') service: string,
    @Query(NOTHING) _query: Record<string, never>,
    @Body(NOTHING) _body: Record<string, never>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ConnectorCheckDto> {
    // The admin's client going away stops the upstream call and any wait before a retry.
    const abort = new AbortController();
    const gone = () => {
      if (!res.writableEnded) abort.abort();
    };
    res.on('close', gone);
    try {
      const result = await this.health.check(
        principal,
        service,
        RequestContext.requestId() ?? '',
        abort.signal,
      );
      // The audit row says why a check that ran found the service failing.
      if (!result.ok && result.code) AuditRequestContext.noteResultCode(result.code);
      return result;
    } finally {
      res.off('close', gone);
    }
  }
}
