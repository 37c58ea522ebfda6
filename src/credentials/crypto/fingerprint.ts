import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * A short identifier of a secret for display ("xero key ...3f9a0c1e"), so an
 * admin can tell whether two stored secrets are the same or whether one changed,
 * without ever seeing it.
 *
 *   fingerprintKey = HKDF-SHA256(ikm = master key, salt = none, info = FINGERPRINT_INFO, 32 bytes)
 *   fingerprint    = first 8 hex characters of HMAC-SHA256(fingerprintKey, UTF-8 bytes of the secret)
 *
 * Why keyed: API keys and passwords can be guessable; a plain hash stored next
 * to the ciphertext would let anyone holding a database dump test guesses
 * offline. With the HMAC key derived from the master key (never in the
 * database), a dump alone gives nothing to test against. HKDF with its own
 * `info` label keeps this key independent of the master key's wrapping use.
 * 8 hex characters (32 bits) identify, not authenticate; they reveal at most
 * 32 bits about an HMAC output and nothing about the secret.
 *
 * A fingerprint depends on the master key it was made with: after rotation,
 * the same secret has a new fingerprint under the new key (compute it under
 * the record's key id, or recompute when re-sealing).
 */
export const FINGERPRINT_INFO = 'sentia.credential.fingerprint.v1';
export const FINGERPRINT_HEX_CHARS = 8;

function withFingerprintKey<T>(masterKey: Buffer, use: (key: Buffer) => T): T {
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), FINGERPRINT_INFO, 32));
  try {
    return use(key);
  } finally {
    key.fill(0);
  }
}

export function credentialFingerprint(masterKey: Buffer, plaintext: string | Buffer): string {
  return withFingerprintKey(masterKey, (key) => {
    const mac = createHmac('sha256', key).update(plaintext).digest();
    try {
      return mac.subarray(0, FINGERPRINT_HEX_CHARS / 2).toString('hex');
    } finally {
      mac.fill(0);
    }
  });
}

/** Constant-time check that `plaintext` has `fingerprint` under `masterKey`. */
export function fingerprintMatches(
  masterKey: Buffer,
  plaintext: string | Buffer,
  fingerprint: string,
): boolean {
  const expected = Buffer.from(credentialFingerprint(masterKey, plaintext), 'utf8');
  const given = Buffer.from(String(fingerprint).toLowerCase(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
