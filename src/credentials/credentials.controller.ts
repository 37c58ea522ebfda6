import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Audited } from '../audit/audit.interceptor';
import { CurrentPrincipal, RequirePermission } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { CREDENTIAL_SERVICES, credentialJsonSchemas } from './credential-schemas';
import { CredentialsExceptionFilter } from './credentials-exception.filter';
import { CredentialListDto, CredentialMetadataDto, CredentialsErrorDto } from './credentials.dto';
import { CredentialQueryPipe } from './credential-query.pipe';
import { CredentialScopeOptions, CredentialsService } from './credentials.service';

const BODY_SCHEMAS = credentialJsonSchemas();
const WITH_USER_ID = new CredentialQueryPipe(true);
const NO_QUERY = new CredentialQueryPipe(false);

const ServiceParam = () =>
  ApiParam({ name: 'service', enum: CREDENTIAL_SERVICES, description: 'The third-party service' });
const UserIdQuery = () =>
  ApiQuery({
    name: 'userId',
    required: false,
    description: "A user's own credential within the organisation; absent: the organisation's",
  });

/**
 * Third-party credentials of the caller's organisation. Thin: every route is
 * one service call; the service validates and scopes. Responses carry
 * metadata only, never a secret.
 */
@ApiTags('credentials')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing, invalid or revoked API key' })
@ApiForbiddenResponse({ description: 'The API key lacks the permission' })
@UseFilters(CredentialsExceptionFilter)
@Audited()
@Controller('credentials')
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  @Put(':service')
  @RequirePermission('credentials:write')
  @ApiOperation({
    summary: 'Store or replace the credentials of a service',
    description:
      'The body is checked against the service: xero (an OAuth app, or a custom connection with ' +
      'grantType "client_credentials"), shopify, unleashed, anthropic, openai. Unknown fields are refused.',
  })
  @ServiceParam()
  @UserIdQuery()
  @ApiBody({
    schema: { oneOf: Object.values(BODY_SCHEMAS) },
    examples: {
      xero: { value: { clientId: 'ABC123', clientSecret: '...', refreshToken: '...', tenantIds: [] } },
      xeroCustomConnection: {
        value: { grantType: 'client_credentials', clientId: 'ABC123', clientSecret: '...' },
      },
      shopify: { value: { shop: 'my-store.myshopify.com', accessToken: 'shpat_...', apiVersion: '2025-07' } },
      unleashed: { value: { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: '...' } },
      anthropic: { value: { apiKey: 'sk-ant-...' } },
    },
  })
  @ApiCreatedResponse({ type: CredentialMetadataDto, description: 'Stored where none was' })
  @ApiOkResponse({ type: CredentialMetadataDto, description: 'Replaced the one stored there' })
  @ApiBadRequestResponse({ type: CredentialsErrorDto, description: 'Invalid body (names each field)' })
  @ApiNotFoundResponse({
    type: CredentialsErrorDto,
    description: 'Unknown service (unknown_service names them)',
  })
  async put(
    @CurrentPrincipal() principal: Principal,
    @Param('service') service: string,
    @Body() body: unknown,
    @Query(WITH_USER_ID) scope: CredentialScopeOptions,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CredentialMetadataDto> {
    const { metadata, created } = await this.credentials.storeOrReplace(principal, service, body, scope);
    // 201 when it created the credential, 200 when it replaced one (RFC 9110, PUT).
    res.status(created ? 201 : 200);
    return metadata;
  }

  @Get()
  @RequirePermission('credentials:read')
  @ApiOperation({ summary: "List the organisation's stored credentials (metadata only)" })
  @ApiOkResponse({ type: CredentialListDto })
  @ApiBadRequestResponse({
    type: CredentialsErrorDto,
    description: 'A query parameter (invalid_query): it takes none',
  })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query(NO_QUERY) _query: CredentialScopeOptions,
  ): Promise<CredentialListDto> {
    return { items: await this.credentials.list(principal) };
  }

  @Get(':service')
  @RequirePermission('credentials:read')
  @ApiOperation({ summary: 'Metadata of one stored credential' })
  @ServiceParam()
  @UserIdQuery()
  @ApiOkResponse({ type: CredentialMetadataDto })
  @ApiNotFoundResponse({ type: CredentialsErrorDto })
  @ApiBadRequestResponse({ type: CredentialsErrorDto })
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('service') service: string,
    @Query(WITH_USER_ID) scope: CredentialScopeOptions,
  ): Promise<CredentialMetadataDto> {
    return this.credentials.get(principal, service, scope);
  }

  @Delete(':service')
  @RequirePermission('credentials:write')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a stored credential' })
  @ServiceParam()
  @UserIdQuery()
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: CredentialsErrorDto })
  @ApiBadRequestResponse({ type: CredentialsErrorDto })
  delete(
    @CurrentPrincipal() principal: Principal,
    @Param('service') service: string,
    @Query(WITH_USER_ID) scope: CredentialScopeOptions,
  ): Promise<void> {
    return this.credentials.delete(principal, service, scope);
  }
}
