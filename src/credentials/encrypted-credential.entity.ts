import { Column, Entity, PrimaryColumn } from 'typeorm';
import { base64Buffer } from '../database/column-transformers';

/**
 * A row of `encrypted_credentials` (migrations/1795780800000-InitialSchema.ts).
 * Only CredentialsRepository touches this class; CredentialsService maps it to
 * CredentialMetadataDto, so an entity never becomes a response.
 *
 * The four sealed columns are base64 text on both databases (`base64Buffer`)
 * and `select: false`: a plain find never loads them, only the repository's
 * explicit `...Sealed` reads do. `wrappedKey` is the wrap's iv (12) || tag (16)
 * || encrypted data key (32), as EnvelopeCipher produces it. The id is a UUID
 * the repository generates (the PostgreSQL column default is not relied on).
 */
@Entity({ name: 'encrypted_credentials' })
export class EncryptedCredential {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'organization_id', type: 'varchar', length: 64 })
  organizationId: string;

  /** null: a credential of the whole organisation. */
  @Column({ name: 'user_id', type: 'varchar', length: 64, nullable: true })
  userId: string | null;

  @Column({ type: 'varchar', length: 100 })
  service: string;

  @Column({ type: 'text', transformer: base64Buffer, select: false })
  ciphertext: Buffer;

  @Column({ type: 'varchar', length: 64, transformer: base64Buffer, select: false })
  iv: Buffer;

  @Column({ name: 'auth_tag', type: 'varchar', length: 64, transformer: base64Buffer, select: false })
  authTag: Buffer;

  @Column({ name: 'wrapped_key', type: 'varchar', length: 128, transformer: base64Buffer, select: false })
  wrappedKey: Buffer;

  /** Id of the master key that wrapped the data key. */
  @Column({ name: 'key_id', type: 'varchar', length: 64 })
  keyId: string;

  /** Keyed fingerprint of the plaintext under `keyId` (see crypto/fingerprint.ts). */
  @Column({ type: 'varchar', length: 128, nullable: true })
  fingerprint: string | null;

  @Column({ name: 'created_at', type: Date })
  createdAt: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt: Date;
}
