import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-256-GCM with a 96-bit IV and a full 128-bit tag, through node:crypto only. */
export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

export interface GcmBox {
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

/** Encrypts under a fresh random IV. */
export function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): GcmBox {
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, authTag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates; returns null when the tag does not verify.
 * GCM's update() hands out plaintext before final() has checked the tag, so
 * every intermediate buffer is zeroed and nothing is returned on failure.
 * `authTagLength` is pinned because Node otherwise accepts truncated tags.
 */
export function gcmDecrypt(key: Buffer, box: GcmBox, aad: Buffer): Buffer | null {
  const decipher = createDecipheriv(ALGORITHM, key, box.iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(box.authTag);
  const head = decipher.update(box.ciphertext);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    head.fill(0);
    return null;
  }
  if (tail.length === 0) return head;
  const plaintext = Buffer.concat([head, tail]);
  head.fill(0);
  tail.fill(0);
  return plaintext;
}
