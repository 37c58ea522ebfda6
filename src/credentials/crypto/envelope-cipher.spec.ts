import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CredentialPlace, EnvelopeCipher, SealedSecret, WRAPPED_KEY_BYTES } from './envelope-cipher';
import { CredentialsError, DECRYPT_FAILED_MESSAGE } from './credential-errors';
import { MasterKeyRing } from './master-key-ring';

const keyA = { id: 'mk-a', key: randomBytes(32) };
const keyB = { id: 'mk-b', key: randomBytes(32) };
const cipherWith = (...keys: (typeof keyA)[]) => new EnvelopeCipher(new MasterKeyRing(keys));

const place: CredentialPlace = { organizationId: 'org-1', userId: 'user-1', service: 'xero' };
const SECRET = 'sk_live_TOP-SECRET-value-0123456789';

/** Runs `read` and returns the CredentialsError it throws (failing if it returns). */
function failureOf(read: () => unknown): CredentialsError {
  let result: unknown;
  try {
    result = read();
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialsError);
    return err as CredentialsError;
  }
  throw new Error(`expected a CredentialsError, got a result of ${String((result as Buffer)?.length)} bytes`);
}

function flipBit(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  copy[index] ^= 1 << (index % 8);
  return copy;
}

function expectNoSecretIn(err: CredentialsError, ...secrets: Buffer[]): void {
  const renderings = [err.message, String(err), JSON.stringify(err), inspect(err), err.stack ?? ''];
  for (const s of secrets) {
    for (const text of renderings) {
      for (const form of [s.toString('utf8'), s.toString('hex'), s.toString('base64')]) {
        expect(text).not.toContain(form);
      }
    }
  }
}

describe('EnvelopeCipher', () => {
  const cipher = cipherWith(keyA);

  describe('round trip', () => {
    it.each([
      ['a string', SECRET],
      ['a Buffer', randomBytes(200)],
      ['an empty string', ''],
      ['a 64 KB Buffer', randomBytes(64 * 1024)],
      ['a 64 KB non-ASCII string', 'é€😀'.repeat((64 * 1024) / 9)],
    ])('seals and opens %s', (_name, value) => {
      const sealed = cipher.seal(value, place);
      const expected = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      expect(cipher.open(sealed, place).equals(expected)).toBe(true);
    });

    it('produces the documented shape, under the current key', () => {
      const sealed = cipherWith(keyB, keyA).seal(SECRET, place);
      expect(sealed.iv).toHaveLength(12);
      expect(sealed.authTag).toHaveLength(16);
      expect(sealed.wrappedKey).toHaveLength(WRAPPED_KEY_BYTES);
      expect(WRAPPED_KEY_BYTES).toBe(60);
      expect(sealed.keyId).toBe('mk-b');
      expect(sealed.ciphertext).toHaveLength(Buffer.byteLength(SECRET));
      expect(sealed.ciphertext.includes(Buffer.from(SECRET))).toBe(false);
    });

    it('opens an organisation-wide credential (userId null)', () => {
      const orgPlace = { ...place, userId: null };
      expect(cipher.open(cipher.seal(SECRET, orgPlace), orgPlace).toString()).toBe(SECRET);
    });

    it('accepts Uint8Array fields as a database driver may return them', () => {
      const s = cipher.seal(SECRET, place);
      const asU8 = (b: Buffer) => new Uint8Array(b);
      const sealed = {
        ...s,
        ciphertext: asU8(s.ciphertext),
        iv: asU8(s.iv),
        authTag: asU8(s.authTag),
        wrappedKey: asU8(s.wrappedKey),
      };
      expect(cipher.open(sealed as unknown as SealedSecret, place).toString()).toBe(SECRET);
    });

    it('leaves a caller-owned plaintext Buffer intact', () => {
      const value = Buffer.from(SECRET);
      cipher.seal(value, place);
      expect(value.toString()).toBe(SECRET);
    });
  });

  it('never repeats ciphertext, IV, tag or wrapped key for the same secret', () => {
    const a = cipher.seal(SECRET, place);
    const b = cipher.seal(SECRET, place);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.authTag.equals(b.authTag)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
    expect(a.wrappedKey.subarray(0, 12).equals(b.wrappedKey.subarray(0, 12))).toBe(false);
  });

  it('reads a record sealed by an earlier build (the stored format is pinned)', () => {
    const kat = new EnvelopeCipher(
      new MasterKeyRing([
        {
          id: 'kat1',
          key: Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'),
        },
      ]),
    );
    const sealed: SealedSecret = {
      ciphertext: Buffer.from('20d9cc85b7eef339f250ea32', 'hex'),
      iv: Buffer.from('e30ccdce7bdd56b46d5fee4a', 'hex'),
      authTag: Buffer.from('0e42953961c2c81f379d8d1f10d1b12b', 'hex'),
      wrappedKey: Buffer.from(
        'ba2f23d24fb07f89fcc137f9338bdc7f4daaeceda9f931f5f12b0a1ba12b2128da16fcc06aaaf103552ddd086466945de2a8ddf992b596951e48cc7a',
        'hex',
      ),
      keyId: 'kat1',
    };
    const katPlace = { organizationId: 'org-kat', userId: 'user-kat', service: 'xero' };
    expect(kat.open(sealed, katPlace).toString()).toBe('known answer');
  });

  describe('tampering', () => {
    const sealed = cipher.seal(SECRET, place);
    const fields = ['ciphertext', 'iv', 'authTag', 'wrappedKey'] as const;

    it.each(fields)('a flipped bit anywhere in %s gives decrypt_failed and no plaintext', (field) => {
      for (let i = 0; i < sealed[field].length; i++) {
        const err = failureOf(() => cipher.open({ ...sealed, [field]: flipBit(sealed[field], i) }, place));
        expect(err.code).toBe('decrypt_failed');
        expect(err.message).toBe(DECRYPT_FAILED_MESSAGE);
        expectNoSecretIn(err, Buffer.from(SECRET), keyA.key);
      }
    });

    it('the untampered record still opens (the tamper cases are not vacuous)', () => {
      expect(cipher.open(sealed, place).toString()).toBe(SECRET);
    });

    it.each<[string, Partial<CredentialPlace>]>([
      ['another organisation', { organizationId: 'org-2' }],
      ['another user', { userId: 'user-2' }],
      ['the organisation-wide slot', { userId: null }],
      ['another service', { service: 'shopify' }],
      ['a user id that looks like null', { userId: 'null' }],
    ])('a record moved to %s gives decrypt_failed', (_name, change) => {
      const err = failureOf(() => cipher.open(sealed, { ...place, ...change }));
      expect(err.code).toBe('decrypt_failed');
      expectNoSecretIn(err, Buffer.from(SECRET));
    });

    it('an organisation-wide record moved to a user gives decrypt_failed', () => {
      const orgPlace = { ...place, userId: null };
      expect(failureOf(() => cipher.open(cipher.seal(SECRET, orgPlace), place)).code).toBe('decrypt_failed');
    });

    it('a wrapped key from another record, or a ciphertext with another data key, is refused', () => {
      const other = cipher.seal(SECRET, place);
      expect(failureOf(() => cipher.open({ ...sealed, wrappedKey: other.wrappedKey }, place)).code).toBe(
        'decrypt_failed',
      );
      const elsewhere = cipher.seal(SECRET, { ...place, organizationId: 'org-2' });
      expect(failureOf(() => cipher.open({ ...elsewhere, wrappedKey: sealed.wrappedKey }, place)).code).toBe(
        'decrypt_failed',
      );
    });

    it('relabelling the key id to another configured key gives decrypt_failed', () => {
      const both = cipherWith(keyA, keyB);
      expect(failureOf(() => both.open({ ...sealed, keyId: 'mk-b' }, place)).code).toBe('decrypt_failed');
    });
  });

  describe('malformed records', () => {
    const sealed = cipher.seal(SECRET, place);
    it.each<[string, Partial<Record<keyof SealedSecret, unknown>>]>([
      ['a short IV', { iv: sealed.iv.subarray(0, 11) }],
      ['a truncated tag', { authTag: sealed.authTag.subarray(0, 12) }],
      ['a short wrapped key', { wrappedKey: sealed.wrappedKey.subarray(0, 59) }],
      ['a long wrapped key', { wrappedKey: Buffer.concat([sealed.wrappedKey, Buffer.alloc(1)]) }],
      ['a ciphertext that is not bytes', { ciphertext: sealed.ciphertext.toString('hex') }],
      ['no key id', { keyId: '' }],
    ])('%s gives malformed_record', (_name, change) => {
      const err = failureOf(() => cipher.open({ ...sealed, ...change } as SealedSecret, place));
      expect(err.code).toBe('malformed_record');
      expectNoSecretIn(err, Buffer.from(SECRET));
    });
  });

  describe('rotation', () => {
    it('seal under [A], open under [B, A], rewrap to B, then open under [B] alone', () => {
      const sealed = cipherWith(keyA).seal(SECRET, place);
      const rotating = cipherWith(keyB, keyA);
      expect(rotating.open(sealed, place).toString()).toBe(SECRET);
      expect(rotating.isCurrent(sealed)).toBe(false);

      const rewrapped = rotating.rewrap(sealed, place);
      expect(rewrapped.keyId).toBe('mk-b');
      expect(rotating.isCurrent(rewrapped)).toBe(true);
      expect(rewrapped.wrappedKey.equals(sealed.wrappedKey)).toBe(false);
      expect(rewrapped.ciphertext.equals(sealed.ciphertext)).toBe(true);
      expect(rewrapped.iv.equals(sealed.iv)).toBe(true);

      expect(cipherWith(keyB).open(rewrapped, place).toString()).toBe(SECRET);
      const err = failureOf(() => cipherWith(keyA).open(rewrapped, place));
      expect(err.code).toBe('master_key_unknown');
    });

    it('a rewrapped record stays bound to its place', () => {
      const rewrapped = cipherWith(keyB, keyA).rewrap(cipherWith(keyA).seal(SECRET, place), place);
      expect(
        failureOf(() => cipherWith(keyB).open(rewrapped, { ...place, organizationId: 'org-2' })).code,
      ).toBe('decrypt_failed');
    });

    it('rewrap refuses a tampered record instead of blessing it under the new key', () => {
      const sealed = cipherWith(keyA).seal(SECRET, place);
      const tampered = { ...sealed, ciphertext: flipBit(sealed.ciphertext, 3) };
      expect(failureOf(() => cipherWith(keyB, keyA).rewrap(tampered, place)).code).toBe('decrypt_failed');
      expect(
        failureOf(() => cipherWith(keyB, keyA).rewrap(sealed, { ...place, service: 'shopify' })).code,
      ).toBe('decrypt_failed');
    });

    it('a record under a removed key gives master_key_unknown naming the key id', () => {
      const sealed = cipherWith(keyA).seal(SECRET, place);
      for (const read of [
        () => cipherWith(keyB).open(sealed, place),
        () => cipherWith(keyB).rewrap(sealed, place),
      ]) {
        const err = failureOf(read);
        expect(err.code).toBe('master_key_unknown');
        expect(err.keyId).toBe('mk-a');
        expect(err.message).toContain('"mk-a"');
        expectNoSecretIn(err, Buffer.from(SECRET), keyA.key, keyB.key);
      }
    });
  });

  describe('selfTest', () => {
    it('proves every configured key', () => {
      expect(cipherWith(keyB, keyA).selfTest()).toEqual({ keyIds: ['mk-b', 'mk-a'] });
    });

    it('fails naming the key when a key does not round-trip', () => {
      // A ring whose lookup hands back other bytes than it wraps with: what a
      // corrupted key store would do. The cipher itself is real.
      class CorruptRing extends MasterKeyRing {
        override get(id: string) {
          return id === 'mk-a' ? { id, key: keyB.key } : super.get(id);
        }
      }
      const err = failureOf(() => new EnvelopeCipher(new CorruptRing([keyB, keyA])).selfTest());
      expect(err.code).toBe('SELF_TEST_FAILED');
      expect(err.keyId).toBe('mk-a');
      expect(err.message).toContain('"mk-a"');
      expectNoSecretIn(err, keyA.key, keyB.key);
    });

    // Faults the real AES-GCM cannot produce, injected by overriding `open`: the self-test is the
    // guard against a build whose cipher lost one of these properties, so it must notice each.
    it('fails when what opens is not what was sealed', () => {
      class GarblingCipher extends EnvelopeCipher {
        override open(sealed: SealedSecret, at: CredentialPlace): Buffer {
          const plaintext = super.open(sealed, at);
          plaintext[0] ^= 1;
          return plaintext;
        }
      }
      const err = failureOf(() => new GarblingCipher(new MasterKeyRing([keyA])).selfTest());
      expect(err.code).toBe('SELF_TEST_FAILED');
      expect(err.keyId).toBe('mk-a');
    });

    it('fails when a record opens at another place (the place binding is lost)', () => {
      // Opens a record wherever it is asked to, as the place it was first opened at.
      class PlaceBlindCipher extends EnvelopeCipher {
        private readonly openedAt = new WeakMap<SealedSecret, CredentialPlace>();
        override open(sealed: SealedSecret, at: CredentialPlace): Buffer {
          if (!this.openedAt.has(sealed)) this.openedAt.set(sealed, at);
          return super.open(sealed, this.openedAt.get(sealed) as CredentialPlace);
        }
      }
      const err = failureOf(() => new PlaceBlindCipher(new MasterKeyRing([keyA])).selfTest());
      expect(err.code).toBe('SELF_TEST_FAILED');
      expect(err.keyId).toBe('mk-a');
    });
  });

  it('refuses a malformed place before any cryptography', () => {
    const bad = [
      { ...place, organizationId: '' },
      { ...place, service: '' },
      { ...place, userId: '' },
      { ...place, userId: undefined },
      { ...place, organizationId: 'org-\ud800' },
    ] as unknown as CredentialPlace[];
    for (const p of bad) {
      expect(() => cipher.seal(SECRET, p)).toThrow(TypeError);
      expect(() => cipher.open(cipher.seal(SECRET, place), p)).toThrow(TypeError);
    }
  });
});
