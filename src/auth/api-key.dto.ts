import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PERMISSIONS } from './tokens/permissions';
import type { ApiKey } from './api-key.entity';
import {
  DURATION_PATTERN,
  MAX_EXPIRES_IN_SECONDS,
  MAX_GRACE_SECONDS,
  MIN_EXPIRES_IN_SECONDS,
} from './api-key.schemas';

export type ApiKeyStatus = 'active' | 'revoked' | 'expired';

/** An API key as the admin API and the CLI show it. Never the token. */
export class ApiKeyDto {
  @ApiProperty({ example: 'key_3qJ8mYbq0Vt1sXk2Lr9aZ4', description: 'The key id (the JWT jti)' })
  id: string;
  @ApiProperty({ example: 'CI pipeline' })
  name: string;
  @ApiProperty()
  organizationId: string;
  @ApiProperty()
  userId: string;
  @ApiProperty({ enum: PERMISSIONS, isArray: true })
  permissions: string[];
  @ApiProperty({ description: 'Key id of the creator, or system:<tool> for the command line' })
  createdBy: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Updated within ~10 s of use',
  })
  lastUsedAt: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the key was (or, after a rotation with grace, will be) revoked',
  })
  revokedAt: string | null;
  @ApiProperty({ type: String, nullable: true })
  revokedReason: string | null;
  @ApiProperty({ enum: ['active', 'revoked', 'expired'] })
  status: ApiKeyStatus;
}

export class CreatedApiKeyDto {
  @ApiProperty({ type: ApiKeyDto })
  key: ApiKeyDto;
  @ApiProperty({ description: 'The bearer token. Shown once: it is not stored and cannot be shown again.' })
  token: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: ApiKeyDto, isArray: true })
  items: ApiKeyDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null at the end',
  })
  nextCursor: string | null;
}

// Request bodies, for the OpenAPI document (validation is the zod schemas in api-key.schemas.ts).
export class CreateApiKeyBody {
  @ApiProperty({ maxLength: 200 })
  name: string;
  @ApiProperty({ enum: PERMISSIONS, isArray: true, description: 'Only permissions the caller holds itself' })
  permissions: string[];
  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', example: '30d', pattern: DURATION_PATTERN.source },
      { type: 'integer', example: 86_400, minimum: MIN_EXPIRES_IN_SECONDS, maximum: MAX_EXPIRES_IN_SECONDS },
    ],
    description:
      'Lifetime: seconds or a duration (45s, 15m, 12h, 30d, 2w), from 60 s to 10 years; none when absent',
  })
  expiresIn?: string | number;
  @ApiPropertyOptional({ description: "The user the key acts for; defaults to the caller's user" })
  userId?: string;
}

export class RevokeApiKeyBody {
  @ApiPropertyOptional({ maxLength: 500 })
  reason?: string;
}

export class RotateApiKeyBody {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_GRACE_SECONDS,
    description: 'Seconds the old key keeps working; 0 or absent revokes it now',
  })
  graceSeconds?: number;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function statusOf(key: ApiKey, now: Date): ApiKeyStatus {
  if (key.revokedAt && key.revokedAt.getTime() <= now.getTime()) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** The one mapping from the entity to what leaves the service layer. */
export function toApiKeyDto(key: ApiKey, now: Date = new Date()): ApiKeyDto {
  return {
    id: key.id,
    name: key.name,
    organizationId: key.organizationId,
    userId: key.userId,
    permissions: [...key.permissions],
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    expiresAt: iso(key.expiresAt),
    lastUsedAt: iso(key.lastUsedAt),
    revokedAt: iso(key.revokedAt),
    revokedReason: key.revokedReason,
    status: statusOf(key, now),
  };
}
