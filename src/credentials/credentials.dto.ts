import { ApiProperty } from '@nestjs/swagger';
import { CREDENTIAL_SERVICES } from './credential-schemas';

/** What the API shows of a stored credential: never the secret, nor any sealed bytes. */
export class CredentialMetadataDto {
  @ApiProperty({ enum: CREDENTIAL_SERVICES })
  service: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'null: the credential of the whole organisation',
  })
  userId: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    description: 'When the secret was last stored or replaced',
  })
  updatedAt: string;
  @ApiProperty({ description: 'Id of the master key that wraps this record', example: 'mk1' })
  keyId: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '3f9a0c1e',
    description:
      'Short keyed fingerprint of the secret: equal fingerprints (under one key id) mean the same secret. ' +
      'It reveals nothing about the secret.',
  })
  fingerprint: string | null;
}

export class CredentialListDto {
  @ApiProperty({ type: CredentialMetadataDto, isArray: true })
  items: CredentialMetadataDto[];
}

export class CredentialsErrorFieldDto {
  @ApiProperty({ example: 'clientSecret' })
  field: string;
  @ApiProperty({ example: 'must not be empty' })
  message: string;
}

export class CredentialsErrorDto {
  @ApiProperty({ example: 400 })
  statusCode: number;
  @ApiProperty({ example: 'Bad Request' })
  error: string;
  @ApiProperty({
    example: 'invalid_credentials',
    enum: [
      'unknown_service',
      'invalid_credentials',
      'invalid_user_id',
      'invalid_query',
      'not_found',
      'master_key_unknown',
      'decrypt_failed',
      'malformed_record',
    ],
  })
  code: string;
  @ApiProperty()
  message: string;
  @ApiProperty({ required: false, description: 'The first bad query parameter (invalid_query)' })
  field?: string;
  @ApiProperty({ type: CredentialsErrorFieldDto, isArray: true, required: false })
  errors?: CredentialsErrorFieldDto[];
  @ApiProperty({ required: false, description: 'The master key id concerned (master_key_unknown)' })
  keyId?: string;
}
