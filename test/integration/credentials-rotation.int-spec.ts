/**
 * Online master key rotation on real databases: records under mk-a, then
 * [mk-b, mk-a] and `rotate` (resumable batches, the rotate-key command), then
 * [mk-b] alone: every rotated record reads, a record left behind names its key.
 */
import { runRotateKeyCommand } from '../../src/credentials/rotate-key.command';
import { uniqueName } from '../support/backends';
import {
  failureOf,
  flipBit,
  KEY_A,
  KEY_B,
  onBothDatabases,
  openVault,
  principal,
  renderings,
  rowsOf,
  tempDir,
  Vault,
} from './credentials-harness';

onBothDatabases((label, backend) => {
  describe(`master key rotation (${label})`, () => {
    const dir = tempDir('sentia-rot-');
    let vault: Vault | undefined;
    const org = uniqueName('rot');
    const secrets = Array.from({ length: 7 }, (_, i) => ({
      user: i % 2 ? `u${i}` : null,
      service: (['openai', 'anthropic'] as const)[i % 2],
      key: `sk-rot-${i}-SECRET`,
    }));
    const place = (i: number) => ({ org: `${org}_${i}`, ...secrets[i] });
    let damagedId: string;

    const reopen = async (keys: string) => {
      await vault?.ref.close();
      vault = await openVault(dir(), backend(), keys);
      return vault;
    };

    afterAll(async () => {
      await vault?.ref.close();
    });

    it('A: records are sealed under mk-a (one of them then damaged)', async () => {
      const v = await reopen(KEY_A);
      for (let i = 0; i < secrets.length; i++) {
        const p = place(i);
        await v.service.put(principal(p.org), p.service, { apiKey: p.key }, { userId: p.user });
      }
      await v.service.put(principal(`${org}_bad`), 'openai', { apiKey: 'sk-damaged' });
      damagedId = (await rowsOf(v.ds, `${org}_bad`))[0].id;
      await flipBit(v.ds, `${org}_bad`, 'ciphertext');
      expect((await v.rotation.status()).keys).toEqual(
        expect.arrayContaining([
          { keyId: 'mk-a', count: expect.any(Number), current: true, configured: true },
        ]),
      );
    });

    it('[B, A]: rotation re-wraps in resumable batches, keeps ciphertexts, and reports the damaged record', async () => {
      const v = await reopen(`${KEY_B},${KEY_A}`);
      const onA = (await v.rotation.status()).remainingOnOldKeys;
      expect(onA).toBe(secrets.length + 1);
      const before = await rowsOf(v.ds, place(0).org);

      const partial = await v.rotation.rotate({ batchSize: 3, maxBatches: 1 });
      expect(partial.currentKeyId).toBe('mk-b');
      expect(partial.rewrapped + partial.failures.length).toBe(3);
      expect(partial.remainingOnOldKeys).toBe(onA - partial.rewrapped);

      const out: string[] = [];
      const code = await runRotateKeyCommand(v.ref, ['--batch-size', '3'], (t) => out.push(t));
      const text = out.join('');
      expect(code).toBe(1);
      expect(text).toContain('under master key mk-b');
      expect(text).toContain('Remaining on old keys: 1');
      expect(text).toContain(`${damagedId} (key mk-a): decrypt_failed`);
      expect(text).not.toMatch(/SECRET|sk-damaged/);

      const again = await v.rotation.rotate({ batchSize: 3 });
      expect(again).toEqual({
        currentKeyId: 'mk-b',
        rewrapped: 0,
        remainingOnOldKeys: 1,
        failures: [{ id: damagedId, keyId: 'mk-a', error: 'decrypt_failed' }],
      });
      // A batch of one: the record left behind fills the batch, and the next batch starts after it.
      const oneByOne = await v.rotation.rotate({ batchSize: 1, maxBatches: 4 });
      expect(oneByOne.failures).toEqual([{ id: damagedId, keyId: 'mk-a', error: 'decrypt_failed' }]);

      const after = await rowsOf(v.ds, place(0).org);
      expect(after[0]).toMatchObject({
        id: before[0].id,
        key_id: 'mk-b',
        ciphertext: before[0].ciphertext,
        iv: before[0].iv,
        auth_tag: before[0].auth_tag,
      });
      expect(after[0].wrapped_key).not.toBe(before[0].wrapped_key);
      expect(after[0].updated_at).toEqual(before[0].updated_at);

      const statusOut: string[] = [];
      expect(await runRotateKeyCommand(v.ref, ['--status', '--json'], (t) => statusOut.push(t))).toBe(0);
      expect(JSON.parse(statusOut.join(''))).toMatchObject({
        currentKeyId: 'mk-b',
        configuredKeyIds: ['mk-b', 'mk-a'],
        keys: [
          { keyId: 'mk-a', count: 1, current: false, configured: true },
          { keyId: 'mk-b', count: expect.any(Number), current: true, configured: true },
        ],
        remainingOnOldKeys: 1,
      });
      expect(
        await runRotateKeyCommand(
          v.ref,
          ['--batch-size', 'x'],
          () => undefined,
          () => undefined,
        ),
      ).toBe(2);
    });

    it('[B]: every rotated record still reads, with the fingerprint a fresh store under mk-b gives', async () => {
      const v = await reopen(KEY_B);
      for (let i = 0; i < secrets.length; i++) {
        const p = place(i);
        expect(await v.service.getDecrypted(p.org, p.service, p.user)).toEqual({ apiKey: p.key });
      }
      const p = place(0);
      const rotated = await v.service.get(principal(p.org), p.service, { userId: p.user });
      expect(rotated.keyId).toBe('mk-b');
      const fresh = await v.service.put(principal(`${org}_fresh`), p.service, { apiKey: p.key });
      expect(fresh.fingerprint).toBe(rotated.fingerprint);
    });

    it('[B]: a record left under the removed key gives an error naming the key id', async () => {
      const v = vault!;
      const err = await failureOf(v.service.getDecrypted(`${org}_bad`, 'openai'));
      expect(err).toMatchObject({ code: 'master_key_unknown', keyId: 'mk-a' });
      expect(err.message).toContain('"mk-a"');
      expect(renderings(err)).not.toContain('sk-damaged');
      const status = await v.rotation.status();
      expect(status.keys).toContainEqual({ keyId: 'mk-a', count: 1, current: false, configured: false });
      expect((await v.rotation.rotate()).failures).toEqual([
        { id: damagedId, keyId: 'mk-a', error: 'master_key_unknown' },
      ]);
      // An admin replaces it; nothing is left on old keys.
      await v.service.put(principal(`${org}_bad`), 'openai', { apiKey: 'sk-replaced' });
      expect((await v.rotation.status()).remainingOnOldKeys).toBe(0);
      expect(await v.service.getDecrypted(`${org}_bad`, 'openai')).toEqual({ apiKey: 'sk-replaced' });
    });
  });
});

onBothDatabases((label, backend) => {
  describe(`master key rotation beside a concurrent write (${label})`, () => {
    const dir = tempDir('sentia-rot-race-');
    let vault: Vault | undefined;
    afterAll(async () => {
      await vault?.ref.close();
    });

    it('counts only what it re-wrapped: a record replaced after its batch was read keeps the new value', async () => {
      const org = uniqueName('race');
      vault = await openVault(dir(), backend(), KEY_A);
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-race-1' });
      await vault.service.put(principal(org), 'anthropic', { apiKey: 'sk-race-2' });
      await vault.ref.close();
      const v = (vault = await openVault(dir(), backend(), `${KEY_B},${KEY_A}`));
      const read = v.repository.findNotUnderKey.bind(v.repository);
      jest.spyOn(v.repository, 'findNotUnderKey').mockImplementationOnce(async (keyId, afterId, limit) => {
        const rows = await read(keyId, afterId, limit);
        await v.service.put(principal(org), 'openai', { apiKey: 'sk-race-new' }); // an admin, meanwhile
        return rows;
      });

      expect(await v.rotation.rotate()).toEqual({
        currentKeyId: 'mk-b',
        rewrapped: 1,
        remainingOnOldKeys: 0,
        failures: [],
      });
      v.service.clearCache();
      expect(await v.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-race-new' });
      expect(await v.service.getDecrypted(org, 'anthropic')).toEqual({ apiKey: 'sk-race-2' });
    });

    it('refuses a batch size outside 1 to 10000', async () => {
      for (const batchSize of [0, 1.5, 10_001]) {
        await expect(vault!.rotation.rotate({ batchSize })).rejects.toThrow(
          'batchSize must be an integer from 1 to 10000',
        );
      }
      expect((await vault!.rotation.rotate({ batchSize: 10_000 })).remainingOnOldKeys).toBe(0);
    });
  });
});
