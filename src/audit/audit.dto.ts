import { ApiProperty } from '@nestjs/swagger';
import { AUDIT_KINDS, AUDIT_OUTCOMES } from './audit-record';
import type { AuditEntryDto, AuditPage } from './audit.service';

/** An audit record as `GET /admin/audit` answers it, for the OpenAPI document (the service builds them). */
export class AuditRecordDto implements AuditEntryDto {
  @ApiProperty({ description: 'Position in the trail (a decimal string)', example: '42' })
  id: string;
  @ApiProperty({ type: String, format: 'date-time' })
  occurredAt: string;
  @ApiProperty({ type: String, nullable: true })
  organizationId: string | null;
  @ApiProperty({ type: String, nullable: true })
  userId: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The API key id, or system:<tool>' })
  keyId: string | null;
  @ApiProperty({ enum: AUDIT_KINDS })
  kind: string;
  @ApiProperty({ description: 'A tool name, a resource URI, `METHOD /route` or an admin action' })
  action: string;
  @ApiProperty({ enum: AUDIT_OUTCOMES })
  outcome: string;
  @ApiProperty({ type: Number, nullable: true, description: 'HTTP status (REST calls)' })
  status: number | null;
  @ApiProperty({ type: String, nullable: true })
  errorCode: string | null;
  @ApiProperty({ type: Number, nullable: true })
  durationMs: number | null;
  @ApiProperty({ type: String, nullable: true })
  ip: string | null;
  @ApiProperty({ type: String, nullable: true })
  userAgent: string | null;
  @ApiProperty({ type: String, nullable: true })
  requestId: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'SHA-256 of the redacted canonical arguments' })
  argsDigest: string | null;
  @ApiProperty({
    type: Object,
    nullable: true,
    description: 'The redacted arguments, only with AUDIT_STORE_ARGS=true; else null',
  })
  args: unknown;
  @ApiProperty()
  writerId: string;
  @ApiProperty()
  seq: number;
  @ApiProperty({ type: String, nullable: true })
  prevHash: string | null;
  @ApiProperty()
  hash: string;
}

export class AuditPageDto implements AuditPage {
  @ApiProperty({ type: AuditRecordDto, isArray: true, description: 'Newest first' })
  items: AuditRecordDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor`, with the same filters, for the next (older) page; null on the last page',
  })
  nextCursor: string | null;
}
