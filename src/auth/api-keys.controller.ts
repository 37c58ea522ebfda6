import { Body, Controller, Get, HttpCode, Param, Post, Query, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from './auth.decorators';
import type { Principal } from './principal';
import {
  ApiKeyDto,
  ApiKeyPageDto,
  CreateApiKeyBody,
  CreatedApiKeyDto,
  RevokeApiKeyBody,
  RotateApiKeyBody,
} from './api-key.dto';
import { Audited } from '../audit/audit.interceptor';
import { ApiKeyErrorFilter } from './api-key-error.filter';
import {
  createApiKeySchema,
  CreateApiKeyInput,
  DEFAULT_PAGE_SIZE,
  listApiKeysSchema,
  MAX_PAGE_SIZE,
  ListApiKeysInput,
  noQuerySchema,
  revokeApiKeySchema,
  RevokeApiKeyInput,
  rotateApiKeySchema,
  RotateApiKeyInput,
} from './api-key.schemas';
import { ApiKeysService, RotatedApiKeyDto } from './api-keys.service';
import { ZodValidationPipe } from './zod-validation.pipe';

const BAD_BODY =
  'A body field is invalid or unknown (code invalid_body; errors names each), or a query parameter was given (invalid_query: these routes take none)';
/** Routes other than the list take no query: a parameter is refused, not ignored. */
const NO_QUERY = new ZodValidationPipe(noQuerySchema);

/** Admin REST for the caller's organisation's API keys. Each method is one service call. */
@ApiTags('api-keys')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No valid API key (see WWW-Authenticate)' })
@ApiForbiddenResponse({ description: 'The key lacks keys:admin, or a permission it tried to grant' })
@RequirePermission('keys:admin')
@UseFilters(ApiKeyErrorFilter)
@Audited()
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the token is in this response only' })
  @ApiBody({ type: CreateApiKeyBody })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ description: BAD_BODY })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodValidationPipe(createApiKeySchema)) body: CreateApiKeyInput,
    @Query(NO_QUERY) _query: object,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedApiKeyDto> {
    const created = await this.apiKeys.create(principal, body);
    res.setHeader('Location', keyLocation(created.key.id));
    return created;
  }

  @Get()
  @ApiOperation({ summary: "List the organisation's API keys, newest first (never tokens)" })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiBadRequestResponse({
    description: 'A query parameter is invalid or unknown (code invalid_query; errors names each)',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
  })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiQuery({ name: 'status', required: false, enum: ['active', 'revoked', 'expired'] })
  @ApiQuery({ name: 'name', required: false, description: 'Case-insensitive part of the name' })
  list(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodValidationPipe(listApiKeysSchema)) query: ListApiKeysInput,
  ): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(principal, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One API key' })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiNotFoundResponse({ description: 'No such key in this organisation' })
  @ApiBadRequestResponse({ description: 'A query parameter was given (this route takes none)' })
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NO_QUERY) _query: object,
  ): Promise<ApiKeyDto> {
    return this.apiKeys.get(principal, id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key on every instance' })
  @ApiBody({ type: RevokeApiKeyBody, required: false })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiBadRequestResponse({ description: BAD_BODY })
  @ApiNotFoundResponse({ description: 'No such key in this organisation' })
  @ApiConflictResponse({ description: 'Already revoked' })
  revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(revokeApiKeySchema)) body: RevokeApiKeyInput,
    @Query(NO_QUERY) _query: object,
  ): Promise<ApiKeyDto> {
    return this.apiKeys.revoke(principal, id, body.reason);
  }

  @Post(':id/rotate')
  @ApiOperation({
    summary: 'Issue a new token with the same grants; the old key is revoked now or after graceSeconds',
  })
  @ApiBody({ type: RotateApiKeyBody, required: false })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ description: BAD_BODY })
  @ApiNotFoundResponse({ description: 'No such key in this organisation' })
  @ApiConflictResponse({ description: 'The key is revoked, expired or already being rotated' })
  async rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(rotateApiKeySchema)) body: RotateApiKeyInput,
    @Query(NO_QUERY) _query: object,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RotatedApiKeyDto> {
    const rotated = await this.apiKeys.rotate(principal, id, body);
    res.setHeader('Location', keyLocation(rotated.key.id)); // the successor
    return rotated;
  }
}

/** Where a created key is read back (the `Location` of a 201). */
const keyLocation = (id: string): string => `/admin/api-keys/${encodeURIComponent(id)}`;
