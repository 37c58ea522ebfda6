/**
 * The one error type of the credentials vault. A transport filter maps `code`
 * to an HTTP status or a tool error; messages are safe to show: they never
 * contain plaintext, key material or ciphertext bytes, only key ids and sizes.
 */
export const CredentialsErrorCode = {
  /** The record names a master key id that is not configured (a removed key). */
  MasterKeyUnknown: 'master_key_unknown',
  /** GCM authentication failed: the record was altered or read at another place. */
  DecryptFailed: 'decrypt_failed',
  /** A field of the record has the wrong type or length. */
  MalformedRecord: 'malformed_record',
  /** The startup round trip under a configured master key did not work. */
  SelfTestFailed: 'SELF_TEST_FAILED',
} as const;
export type CredentialsErrorCode = (typeof CredentialsErrorCode)[keyof typeof CredentialsErrorCode];

export const DECRYPT_FAILED_MESSAGE =
  'credential could not be decrypted: it was altered or does not belong to this organisation/service';

/**
 * The HTTP status of each code. A record that exists but cannot be read with
 * this configuration (a removed master key), or was altered, is a conflict
 * between the stored state and the server (409), not a server bug; a
 * malformed record or a failed self-test is (500).
 */
export const CREDENTIALS_ERROR_STATUS: Record<CredentialsErrorCode, number> = {
  [CredentialsErrorCode.MasterKeyUnknown]: 409,
  [CredentialsErrorCode.DecryptFailed]: 409,
  [CredentialsErrorCode.MalformedRecord]: 500,
  [CredentialsErrorCode.SelfTestFailed]: 500,
};

export class CredentialsError extends Error {
  /** The HTTP status this error answers with (the filter sends it; the audit interceptor records it). */
  readonly status: number;

  constructor(
    readonly code: CredentialsErrorCode,
    message: string,
    /** The master key id concerned, when there is one (never secret). */
    readonly keyId?: string,
  ) {
    super(message);
    this.name = 'CredentialsError';
    this.status = CREDENTIALS_ERROR_STATUS[code];
  }

  static masterKeyUnknown(keyId: string): CredentialsError {
    return new CredentialsError(
      CredentialsErrorCode.MasterKeyUnknown,
      `credential is sealed under master key ${safeKeyId(keyId)}, which is not configured: ` +
        'add that key back to MASTER_ENCRYPTION_KEYS (after the current key) to read or rotate it',
      keyId,
    );
  }

  static decryptFailed(keyId?: string): CredentialsError {
    return new CredentialsError(CredentialsErrorCode.DecryptFailed, DECRYPT_FAILED_MESSAGE, keyId);
  }

  static malformed(detail: string): CredentialsError {
    return new CredentialsError(
      CredentialsErrorCode.MalformedRecord,
      `credential record is malformed: ${detail}`,
    );
  }

  static selfTestFailed(keyId: string): CredentialsError {
    return new CredentialsError(
      CredentialsErrorCode.SelfTestFailed,
      `encryption self-test failed for master key ${safeKeyId(keyId)}`,
      keyId,
    );
  }
}

/**
 * Key ids come from configuration or from a database row; quote them and cap
 * their length so a strange value cannot forge or flood a log line.
 */
function safeKeyId(keyId: string): string {
  const s = typeof keyId === 'string' ? keyId : String(keyId);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
}
