import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigModule } from '../../config/config.module';
import { AppConfig, MasterKey } from '../../config/config.types';
import { CredentialsError } from './credential-errors';
import { EnvelopeCipher } from './envelope-cipher';
import { MasterKeyRing, masterKeyRingProvider } from './master-key-ring';

const keyA: MasterKey = { id: 'mk-a', key: randomBytes(32) };
const keyB: MasterKey = { id: 'mk-b', key: randomBytes(32) };

describe('MasterKeyRing', () => {
  it('makes the first key current and finds every key by id', () => {
    const ring = new MasterKeyRing([keyB, keyA]);
    expect(ring.current.id).toBe('mk-b');
    expect(ring.ids).toEqual(['mk-b', 'mk-a']);
    expect(ring.get('mk-a').key.equals(keyA.key)).toBe(true);
    expect(ring.has('mk-a')).toBe(true);
    expect(ring.has('mk-c')).toBe(false);
  });

  it('throws master_key_unknown naming an absent key id', () => {
    const ring = new MasterKeyRing([keyA]);
    let err: unknown;
    try {
      ring.get('mk-old');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as CredentialsError).code).toBe('master_key_unknown');
    expect((err as CredentialsError).keyId).toBe('mk-old');
    expect((err as CredentialsError).message).toContain('"mk-old"');
  });

  it('quotes and caps a hostile key id in the message', () => {
    const ring = new MasterKeyRing([keyA]);
    const hostile = 'x\n' + 'y'.repeat(500);
    try {
      ring.get(hostile);
      throw new Error('expected master_key_unknown');
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
      expect((e as Error).message.length).toBeLessThan(300);
    }
  });

  it.each<[string, MasterKey[]]>([
    ['an empty list', []],
    ['a short key', [{ id: 'k', key: randomBytes(31) }]],
    ['a long key', [{ id: 'k', key: randomBytes(33) }]],
    ['a key without id', [{ id: '', key: randomBytes(32) }]],
    ['a duplicate id', [keyA, { id: 'mk-a', key: randomBytes(32) }]],
  ])('refuses %s', (_name, keys) => {
    expect(() => new MasterKeyRing(keys)).toThrow(/MasterKeyRing/);
  });

  it('keeps its own copy of the keys', () => {
    const original = Buffer.from(keyA.key);
    const given = { id: 'mk-a', key: Buffer.from(original) };
    const ring = new MasterKeyRing([given]);
    given.key.fill(0);
    expect(ring.current.key.equals(original)).toBe(true);
  });

  it('never prints key bytes', () => {
    const ring = new MasterKeyRing([keyA, keyB]);
    for (const text of [inspect(ring), JSON.stringify(ring), inspect({ nested: { ring } })]) {
      expect(text).toContain('mk-a');
      for (const k of [keyA, keyB]) {
        expect(text).not.toContain(k.key.toString('hex'));
        expect(text).not.toContain(k.key.toString('base64'));
      }
    }
  });
});

describe('Nest wiring (masterKeyRingProvider + EnvelopeCipher)', () => {
  const build = (keys: MasterKey[], ringProvider = masterKeyRingProvider) =>
    Test.createTestingModule({
      imports: [ConfigModule.forRoot({ masterKeys: keys } as AppConfig)],
      providers: [ringProvider, EnvelopeCipher],
    }).compile();

  it('builds the ring from AppConfig.masterKeys and passes the self-test at init', async () => {
    const moduleRef = await build([keyB, keyA]);
    await moduleRef.init();
    const cipher = moduleRef.get(EnvelopeCipher);
    const place = { organizationId: 'o', userId: null, service: 's' };
    expect(cipher.seal('x', place).keyId).toBe('mk-b');
    expect(moduleRef.get(MasterKeyRing).ids).toEqual(['mk-b', 'mk-a']);
    await moduleRef.close();
  });

  it('stops the boot with SELF_TEST_FAILED when a key does not round-trip', async () => {
    class CorruptRing extends MasterKeyRing {
      override get(id: string): MasterKey {
        return { id, key: Buffer.alloc(32, 7) };
      }
    }
    const moduleRef = await build([keyA], {
      ...masterKeyRingProvider,
      useFactory: (c: AppConfig) => new CorruptRing(c.masterKeys),
    });
    await expect(moduleRef.init()).rejects.toMatchObject({ code: 'SELF_TEST_FAILED', keyId: 'mk-a' });
  });
});
