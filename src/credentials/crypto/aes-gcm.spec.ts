import { randomBytes } from 'node:crypto';
import { AES_KEY_BYTES, GCM_TAG_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm';

describe('AES-256-GCM', () => {
  const key = randomBytes(AES_KEY_BYTES);
  const aad = Buffer.from('place');
  const plaintext = Buffer.from('the secret');

  it('opens what it sealed, and nothing under another AAD', () => {
    const box = gcmEncrypt(key, plaintext, aad);
    expect(box.authTag).toHaveLength(GCM_TAG_BYTES);
    expect(gcmDecrypt(key, box, aad)?.equals(plaintext)).toBe(true);
    expect(gcmDecrypt(key, box, Buffer.from('elsewhere'))).toBeNull();
  });

  // GCM tags may legally be cut to 12, 8 or 4 bytes, and a cut tag is a prefix of the full one:
  // Node verifies a short tag unless the length is pinned, which makes forgery far cheaper.
  it.each([12, 8, 4])('refuses a tag truncated to %i bytes, though it is a prefix of the real one', (n) => {
    const box = gcmEncrypt(key, plaintext, aad);
    expect(() => gcmDecrypt(key, { ...box, authTag: box.authTag.subarray(0, n) }, aad)).toThrow(
      /authentication tag length/i,
    );
  });
});
