import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm';
import { CredentialPlace, assertPlace, dataKeyAad, payloadAad } from './credential-aad';
import { CredentialsError, CredentialsErrorCode } from './credential-errors';
import { credentialFingerprint, fingerprintMatches } from './fingerprint';
import { MasterKeyRing } from './master-key-ring';
import { MasterKey } from '../../config/config.types';

export type { CredentialPlace } from './credential-aad';

/** What a credential row stores (besides its place). */
export interface SealedSecret {
  ciphertext: Buffer;
  /** 12 bytes. */
  iv: Buffer;
  /** 16 bytes. */
  authTag: Buffer;
  /** iv (12) || tag (16) || encrypted data key (32): 60 bytes. */
  wrappedKey: Buffer;
  /** Id of the master key that wrapped the data key. */
  keyId: string;
}

export const WRAPPED_KEY_BYTES = GCM_IV_BYTES + GCM_TAG_BYTES + AES_KEY_BYTES;

const SELF_TEST_PLACE: CredentialPlace = { organizationId: 'self-test', userId: null, service: 'self-test' };
const SELF_TEST_OTHER_PLACE: CredentialPlace = {
  organizationId: 'self-test-2',
  userId: null,
  service: 'self-test',
};

/**
 * Envelope encryption of credentials.
 *
 * - Every seal draws a fresh random 32-byte data key and a fresh 96-bit IV and
 *   encrypts the secret with AES-256-GCM (128-bit tag); the AAD is the row's
 *   place (organisation, user, service), so a ciphertext copied to another row
 *   fails to open.
 * - The data key is wrapped with AES-256-GCM under the current master key;
 *   the wrap's AAD binds the master key id and the place, so a wrapped key is
 *   useless under another key id or on another row.
 * - Design choice: the key id is bound in the wrap, not in the payload AAD. A
 *   payload can only be read through its data key, which only unwraps under
 *   that key id at that place, so the binding is the same; in return rotation
 *   re-wraps 60 bytes per row and never rewrites (or risks) the ciphertext.
 * - Data keys and other transient secret buffers are zeroed after use. `open`
 *   returns the plaintext in a Buffer the caller should `fill(0)` when done.
 */
@Injectable()
export class EnvelopeCipher implements OnModuleInit {
  constructor(private readonly ring: MasterKeyRing) {}

  /** Boot fails when any configured master key cannot round-trip. */
  onModuleInit(): void {
    this.selfTest();
  }

  seal(plaintext: string | Buffer, place: CredentialPlace): SealedSecret {
    return this.sealUnder(this.ring.current, plaintext, place);
  }

  /** The plaintext, or decrypt_failed / master_key_unknown / malformed_record. */
  open(sealed: SealedSecret, place: CredentialPlace): Buffer {
    assertPlace(place);
    const record = checkRecord(sealed);
    const dataKey = this.unwrap(record, place);
    try {
      return decryptPayload(dataKey, record, place);
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * The same secret with its data key wrapped under the current master key.
   * The ciphertext, IV and tag are kept (as copies); the payload is decrypted
   * once (and zeroed) to prove the record is intact before it is blessed
   * under the new key, so a rotation run also finds damaged rows.
   */
  rewrap(sealed: SealedSecret, place: CredentialPlace): SealedSecret {
    assertPlace(place);
    const record = checkRecord(sealed);
    const dataKey = this.unwrap(record, place);
    try {
      decryptPayload(dataKey, record, place).fill(0);
      const current = this.ring.current;
      return {
        ciphertext: Buffer.from(record.ciphertext),
        iv: Buffer.from(record.iv),
        authTag: Buffer.from(record.authTag),
        wrappedKey: wrapDataKey(current, dataKey, place),
        keyId: current.id,
      };
    } finally {
      dataKey.fill(0);
    }
  }

  /** Whether the record is already wrapped by the current master key. */
  isCurrent(sealed: Pick<SealedSecret, 'keyId'>): boolean {
    return sealed.keyId === this.ring.current.id;
  }

  /**
   * Seals and opens a random value under every configured master key, and
   * checks that a wrong place is refused; throws SELF_TEST_FAILED naming the key.
   */
  selfTest(): { keyIds: string[] } {
    for (const master of this.ring.keys) {
      const value = randomBytes(32);
      let opened: Buffer | undefined;
      try {
        const sealed = this.sealUnder(master, value, SELF_TEST_PLACE);
        opened = this.open(sealed, SELF_TEST_PLACE);
        if (opened.length !== value.length || !timingSafeEqual(opened, value)) {
          throw CredentialsError.selfTestFailed(master.id);
        }
        if (!refuses(() => this.open(sealed, SELF_TEST_OTHER_PLACE))) {
          throw CredentialsError.selfTestFailed(master.id);
        }
      } catch (err) {
        if (err instanceof CredentialsError && err.code === CredentialsErrorCode.SelfTestFailed) throw err;
        throw CredentialsError.selfTestFailed(master.id);
      } finally {
        value.fill(0);
        opened?.fill(0);
      }
    }
    return { keyIds: this.ring.ids };
  }

  /** Display fingerprint (see fingerprint.ts), under the current key unless `keyId` is given. */
  fingerprint(plaintext: string | Buffer, keyId: string = this.ring.current.id): string {
    return credentialFingerprint(this.ring.get(keyId).key, plaintext);
  }

  fingerprintMatches(
    plaintext: string | Buffer,
    fingerprint: string,
    keyId: string = this.ring.current.id,
  ): boolean {
    return fingerprintMatches(this.ring.get(keyId).key, plaintext, fingerprint);
  }

  private sealUnder(master: MasterKey, plaintext: string | Buffer, place: CredentialPlace): SealedSecret {
    assertPlace(place);
    const ownCopy = typeof plaintext === 'string';
    if (!ownCopy && !Buffer.isBuffer(plaintext))
      throw new TypeError('seal: plaintext must be a string or a Buffer');
    const bytes = ownCopy ? Buffer.from(plaintext, 'utf8') : plaintext;
    const dataKey = randomBytes(AES_KEY_BYTES);
    try {
      const box = gcmEncrypt(dataKey, bytes, payloadAad(place));
      return {
        ciphertext: box.ciphertext,
        iv: box.iv,
        authTag: box.authTag,
        wrappedKey: wrapDataKey(master, dataKey, place),
        keyId: master.id,
      };
    } finally {
      dataKey.fill(0);
      if (ownCopy) bytes.fill(0);
    }
  }

  private unwrap(record: SealedSecret, place: CredentialPlace): Buffer {
    const master = this.ring.get(record.keyId);
    const w = record.wrappedKey;
    const box = {
      iv: w.subarray(0, GCM_IV_BYTES),
      authTag: w.subarray(GCM_IV_BYTES, GCM_IV_BYTES + GCM_TAG_BYTES),
      ciphertext: w.subarray(GCM_IV_BYTES + GCM_TAG_BYTES),
    };
    const dataKey = gcmDecrypt(master.key, box, dataKeyAad(master.id, place));
    if (!dataKey) throw CredentialsError.decryptFailed(record.keyId);
    if (dataKey.length !== AES_KEY_BYTES) {
      dataKey.fill(0);
      throw CredentialsError.decryptFailed(record.keyId);
    }
    return dataKey;
  }
}

function wrapDataKey(master: MasterKey, dataKey: Buffer, place: CredentialPlace): Buffer {
  const box = gcmEncrypt(master.key, dataKey, dataKeyAad(master.id, place));
  return Buffer.concat([box.iv, box.authTag, box.ciphertext]);
}

function decryptPayload(dataKey: Buffer, record: SealedSecret, place: CredentialPlace): Buffer {
  const plaintext = gcmDecrypt(dataKey, record, payloadAad(place));
  if (!plaintext) throw CredentialsError.decryptFailed(record.keyId);
  return plaintext;
}

function refuses(read: () => Buffer): boolean {
  try {
    read().fill(0);
    return false;
  } catch (err) {
    return err instanceof CredentialsError && err.code === CredentialsErrorCode.DecryptFailed;
  }
}

/** Checks types and lengths (never contents) of a stored record; Uint8Array fields are accepted. */
function checkRecord(sealed: SealedSecret): SealedSecret {
  if (sealed === null || typeof sealed !== 'object') throw CredentialsError.malformed('no record');
  const bytes = (name: keyof SealedSecret, length?: number): Buffer => {
    const v: unknown = sealed[name];
    if (!(v instanceof Uint8Array)) throw CredentialsError.malformed(`${name} must be bytes`);
    if (length !== undefined && v.length !== length) {
      throw CredentialsError.malformed(`${name} must be ${length} bytes (got ${v.length})`);
    }
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  };
  const record: SealedSecret = {
    ciphertext: bytes('ciphertext'),
    iv: bytes('iv', GCM_IV_BYTES),
    authTag: bytes('authTag', GCM_TAG_BYTES),
    wrappedKey: bytes('wrappedKey', WRAPPED_KEY_BYTES),
    keyId: sealed.keyId,
  };
  if (typeof record.keyId !== 'string' || record.keyId === '')
    throw CredentialsError.malformed('keyId is missing');
  return record;
}
