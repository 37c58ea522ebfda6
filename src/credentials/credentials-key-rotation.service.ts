import { Injectable, Logger } from '@nestjs/common';
import { CredentialsRepository } from './credentials.repository';
import { CredentialsError } from './crypto/credential-errors';
import { EnvelopeCipher } from './crypto/envelope-cipher';
import { MasterKeyRing } from './crypto/master-key-ring';

export interface RotateOptions {
  /** Records read and re-wrapped per batch (default 100). */
  batchSize?: number;
  /** Stop after this many batches (default: until done); a later run picks up the rest. */
  maxBatches?: number;
}

export interface RotationFailure {
  /** The record's id (no organisation data, no secret). */
  id: string;
  /** The master key id the record is still under. */
  keyId: string;
  /** A CredentialsError code (master_key_unknown, decrypt_failed, malformed_record) or unexpected. */
  error: string;
}

export interface RotationReport {
  currentKeyId: string;
  rewrapped: number;
  remainingOnOldKeys: number;
  failures: RotationFailure[];
}

export interface KeyStatus {
  keyId: string;
  count: number;
  /** Wraps new data keys. */
  current: boolean;
  /** Present in the configuration (false: these records cannot be read). */
  configured: boolean;
}

export interface RotationStatus {
  currentKeyId: string;
  configuredKeyIds: string[];
  keys: KeyStatus[];
  remainingOnOldKeys: number;
}

const DEFAULT_BATCH_SIZE = 100;
const MAX_BATCH_SIZE = 10_000;

/**
 * Online master key rotation: re-wraps the data key of every record not under
 * the current master key (the first configured), batch by batch, while the
 * service keeps running. Only the 60-byte wrapped key (and the fingerprint,
 * recomputed under the new key) change; ciphertexts are never rewritten, and
 * each row is updated only if it still holds the wrap that was read, so a
 * concurrent PUT or refresh-token update wins. Resumable and idempotent: a run
 * just takes the records not yet under the current key, so it can be stopped,
 * repeated or run on two instances at once. A record that cannot be opened is
 * reported and left as it is.
 *
 *   1. Configure MASTER_ENCRYPTION_KEYS=new:<hex>,old:<hex> everywhere.
 *   2. `sentia-mcp credentials rotate-key` until it reports 0 remaining.
 *   3. Remove `old` from the configuration.
 */
@Injectable()
export class CredentialsKeyRotation {
  private readonly logger = new Logger(CredentialsKeyRotation.name);

  constructor(
    private readonly repository: CredentialsRepository,
    private readonly cipher: EnvelopeCipher,
    private readonly ring: MasterKeyRing,
  ) {}

  async rotate(options: RotateOptions = {}): Promise<RotationReport> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new RangeError(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
    const current = this.ring.current.id;
    const failures: RotationFailure[] = [];
    let rewrapped = 0;
    let afterId: string | null = null;

    for (let batch = 0; batch < maxBatches; batch++) {
      const rows = await this.repository.findNotUnderKey(current, afterId, batchSize);
      for (const row of rows) {
        const place = { organizationId: row.organizationId, userId: row.userId, service: row.service };
        try {
          const plaintext = this.cipher.open(row, place);
          let fingerprint: string;
          try {
            fingerprint = this.cipher.fingerprint(plaintext, current);
          } finally {
            plaintext.fill(0);
          }
          const next = this.cipher.rewrap(row, place);
          const done = await this.repository.updateWrap(
            row.id,
            { keyId: row.keyId, wrappedKey: row.wrappedKey },
            { keyId: next.keyId, wrappedKey: next.wrappedKey, fingerprint },
          );
          if (done) rewrapped++;
        } catch (err) {
          const error = err instanceof CredentialsError ? err.code : 'unexpected';
          // A driver error can carry the query's parameters (sealed bytes): log only its message.
          if (!(err instanceof CredentialsError)) {
            this.logger.error(`Re-wrapping record ${row.id} failed: ${(err as Error)?.message ?? 'error'}`);
          }
          failures.push({ id: row.id, keyId: row.keyId, error });
        }
      }
      if (rows.length < batchSize) break;
      afterId = rows[rows.length - 1].id;
    }

    const remainingOnOldKeys = await this.repository.countNotUnderKey(current);
    this.logger.log(
      `Key rotation to ${JSON.stringify(current)}: ${rewrapped} re-wrapped, ` +
        `${failures.length} failed, ${remainingOnOldKeys} remaining on old keys`,
    );
    return { currentKeyId: current, rewrapped, remainingOnOldKeys, failures };
  }

  /** Records per master key id. */
  async status(): Promise<RotationStatus> {
    const current = this.ring.current.id;
    const keys = (await this.repository.countByKey()).map((k) => ({
      ...k,
      current: k.keyId === current,
      configured: this.ring.has(k.keyId),
    }));
    return {
      currentKeyId: current,
      configuredKeyIds: this.ring.ids,
      keys,
      remainingOnOldKeys: keys.filter((k) => !k.current).reduce((n, k) => n + k.count, 0),
    };
  }
}
