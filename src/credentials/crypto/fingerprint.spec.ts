import { createHash, randomBytes } from 'node:crypto';
import { credentialFingerprint, fingerprintMatches } from './fingerprint';
import { EnvelopeCipher } from './envelope-cipher';
import { MasterKeyRing } from './master-key-ring';

const katKey = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('credentialFingerprint', () => {
  it('is pinned: HKDF-SHA256 key, HMAC-SHA256, first 8 hex characters', () => {
    expect(credentialFingerprint(katKey, 'known answer')).toBe('7a638e97');
  });

  it('is short, stable, and the same for a string and its UTF-8 bytes', () => {
    const fp = credentialFingerprint(katKey, 'sk_live_abc');
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    expect(credentialFingerprint(katKey, 'sk_live_abc')).toBe(fp);
    expect(credentialFingerprint(katKey, Buffer.from('sk_live_abc'))).toBe(fp);
  });

  it('differs between secrets and between master keys', () => {
    expect(credentialFingerprint(katKey, 'secret-1')).not.toBe(credentialFingerprint(katKey, 'secret-2'));
    expect(credentialFingerprint(katKey, 'secret-1')).not.toBe(
      credentialFingerprint(randomBytes(32), 'secret-1'),
    );
  });

  it('is not an unkeyed hash a database dump could be checked against', () => {
    const secret = 'password123';
    const fp = credentialFingerprint(katKey, secret);
    for (const alg of ['sha256', 'sha1', 'md5', 'sha512']) {
      expect(createHash(alg).update(secret).digest('hex').startsWith(fp)).toBe(false);
    }
  });

  it('matches in constant time, case-insensitively, and rejects others', () => {
    const fp = credentialFingerprint(katKey, 'sk_live_abc');
    expect(fingerprintMatches(katKey, 'sk_live_abc', fp)).toBe(true);
    expect(fingerprintMatches(katKey, 'sk_live_abc', fp.toUpperCase())).toBe(true);
    expect(fingerprintMatches(katKey, 'sk_live_abd', fp)).toBe(false);
    expect(fingerprintMatches(katKey, 'sk_live_abc', fp.slice(0, 7))).toBe(false);
  });

  it('is offered by EnvelopeCipher under the current key or a named one', () => {
    const other = { id: 'mk-old', key: randomBytes(32) };
    const cipher = new EnvelopeCipher(new MasterKeyRing([{ id: 'kat1', key: katKey }, other]));
    expect(cipher.fingerprint('known answer')).toBe('7a638e97');
    expect(cipher.fingerprint('known answer', 'mk-old')).toBe(
      credentialFingerprint(other.key, 'known answer'),
    );
    expect(cipher.fingerprintMatches('known answer', '7a638e97')).toBe(true);
    expect(() => cipher.fingerprint('x', 'gone')).toThrow(
      expect.objectContaining({ code: 'master_key_unknown' }),
    );
  });
});
