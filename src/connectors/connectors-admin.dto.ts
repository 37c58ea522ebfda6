import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SERVICE_NAMES, UpstreamService } from './http/upstream.errors';

/** The services the admin API reports on and checks, in the order it lists them. */
export const CONNECTOR_SERVICES = Object.keys(SERVICE_NAMES) as UpstreamService[];

export const CIRCUIT_STATES = ['closed', 'open', 'half_open', 'unknown'] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];

/** What is stored for the organisation (never a secret, nor its fingerprint). */
export class ConnectorCredentialsStateDto {
  @ApiProperty({ description: "Whether the organisation's own credentials for the service are stored" })
  stored: boolean;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When they were last stored or replaced; null when none are',
  })
  updatedAt: string | null;
}

/** This instance's circuit breaker for the service. */
export class ConnectorCircuitDto {
  @ApiProperty({
    enum: CIRCUIT_STATES,
    description:
      'closed: calls go; open: calls are refused at once (upstream_circuit_open) after failures in a row; ' +
      'half_open: the next call is a trial; unknown: Shopify, whose circuit is per shop and whose shop is ' +
      'named only in the encrypted credentials (POST .../shopify/check reaches it)',
  })
  state: CircuitStateName;
  @ApiProperty({
    enum: ['service', 'shop'],
    description:
      "service: the upstream's own hosts, shared by every organisation; shop: this organisation's Shopify shop",
  })
  scope: 'service' | 'shop';
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Seconds until an open circuit lets a trial call through; null unless open',
  })
  retryAfterSeconds: number | null;
}

export class ConnectorStatusDto {
  @ApiProperty({ enum: CONNECTOR_SERVICES })
  service: UpstreamService;
  @ApiProperty({ type: ConnectorCredentialsStateDto })
  credentials: ConnectorCredentialsStateDto;
  @ApiProperty({ type: ConnectorCircuitDto, description: 'Of the instance that answered (kept in memory)' })
  circuit: ConnectorCircuitDto;
}

export class ConnectorListDto {
  @ApiProperty({ type: ConnectorStatusDto, isArray: true, description: 'One per service' })
  items: ConnectorStatusDto[];
}

/** The outcome of one live check. A failed check is still a 200: the check ran, the upstream said no. */
export class ConnectorCheckDto {
  @ApiProperty({ enum: CONNECTOR_SERVICES })
  service: UpstreamService;
  @ApiProperty({ description: 'Whether the upstream accepted the stored credentials' })
  ok: boolean;
  @ApiProperty({ type: String, format: 'date-time', description: 'When the check started' })
  checkedAt: string;
  @ApiProperty({ description: 'How long the check took, in milliseconds' })
  durationMs: number;
  @ApiPropertyOptional({
    description: 'When ok: what the upstream said, e.g. the number of Xero tenants or the Shopify shop name',
    example: 'Xero accepted the credentials; 2 tenants connected',
  })
  detail?: string;
  @ApiPropertyOptional({
    description: "When not ok: the code a tool call would fail with (its audit rows' error code)",
    example: 'upstream_rejected_credentials',
  })
  code?: string;
  @ApiPropertyOptional({
    description: 'When not ok: what happened and who can fix it; never an upstream body or a secret',
  })
  message?: string;
  @ApiPropertyOptional({ description: 'When not ok and a retry may succeed later: after how many seconds' })
  retryAfterSeconds?: number;
}

export class ConnectorsErrorFieldDto {
  @ApiProperty({ example: 'service' })
  field: string;
  @ApiProperty({ example: 'must be one of xero, shopify, unleashed, anthropic, openai' })
  message: string;
}

export class ConnectorsErrorDto {
  @ApiProperty({ example: 404 })
  statusCode: number;
  @ApiProperty({ example: 'Not Found' })
  error: string;
  @ApiProperty({ enum: ['unknown_service', 'invalid_query', 'invalid_body'], example: 'unknown_service' })
  code: string;
  @ApiProperty({
    example: 'unknown service "xer": must be one of xero, shopify, unleashed, anthropic, openai',
  })
  message: string;
  @ApiPropertyOptional({ description: 'The first bad query parameter (invalid_query)' })
  field?: string;
  @ApiPropertyOptional({ type: ConnectorsErrorFieldDto, isArray: true })
  errors?: ConnectorsErrorFieldDto[];
}
