/**
 * The vault's conditional write (readForUpdate, then replaceIfUnchanged) on
 * real databases: a connector's write-back of a value it derived from a read
 * (Xero's rotated refresh token) lands only while the record is still the one
 * it read; an admin's PUT or DELETE made since stands, with its audit record.
 */
import { uniqueName } from '../support/backends';
import {
  failureOf,
  KEY_A,
  KEY_B,
  onBothDatabases,
  openVault,
  principal,
  rowsOf,
  sql,
  tempDir,
  Vault,
} from './credentials-harness';

const TENANT = '0e6f8b4c-1111-4a3b-9c8d-123456789abc';
const app = (n: number, refreshToken = `xero-refresh-token-${n}-SECRET`) => ({
  grantType: 'authorization_code' as const,
  clientId: `XERO-CLIENT-${n}`,
  clientSecret: `xero-client-secret-${n}-SECRET`,
  refreshToken,
  tenantIds: [TENANT],
});

onBothDatabases((label, backend) => {
  describe(`conditional write of a credential (${label})`, () => {
    const dir = tempDir('sentia-cas-');
    let vault: Vault;

    beforeAll(async () => {
      vault = await openVault(dir(), backend(), KEY_A);
    });
    afterAll(async () => {
      await vault?.ref.close();
    });

    const auditActions = async (org: string): Promise<string[]> =>
      (
        await sql(vault.ds, `SELECT action FROM audit_logs WHERE organization_id = ? ORDER BY occurred_at`, [
          org,
        ])
      ).map((r: { action: string }) => r.action);

    it('replaces the value while the record is still the one read, and not again from that read', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      expect(read.value).toEqual(app(1));

      const rotated = { ...read.value, refreshToken: 'xero-refresh-token-ROTATED' };
      expect(await vault.service.replaceIfUnchanged(org, 'xero', read.revision, rotated)).toBe('replaced');
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(rotated);
      const [row] = await rowsOf(vault.ds, org);
      expect(JSON.stringify(row)).not.toContain('ROTATED');

      // The record moved on with that write: the same read no longer matches it.
      const again = { ...read.value, refreshToken: 'xero-refresh-token-AGAIN' };
      expect(await vault.service.replaceIfUnchanged(org, 'xero', read.revision, again)).toBe('changed');
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(rotated);
      // The connector's write-back is not an admin change: only the PUT is in the trail.
      expect(await auditActions(org)).toEqual(['credential.put']);
    });

    it("an admin's PUT after the read wins: nothing is written, the PUT's value and audit record stand", async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      await vault.service.put(principal(org), 'xero', app(2));
      const [afterPut] = await rowsOf(vault.ds, org);

      const rotated = { ...read.value, refreshToken: 'xero-refresh-token-FROM-OLD-GRANT' };
      expect(await vault.service.replaceIfUnchanged(org, 'xero', read.revision, rotated)).toBe('changed');

      expect(await rowsOf(vault.ds, org)).toEqual([afterPut]);
      vault.service.clearCache();
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(app(2));
      expect(await auditActions(org)).toEqual(['credential.put', 'credential.put']);
    });

    it('a PUT of the very same value after the read still counts as a change (a new seal)', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      await vault.service.put(principal(org), 'xero', app(1));
      const rotated = { ...read.value, refreshToken: 'xero-refresh-token-ROTATED' };
      expect(await vault.service.replaceIfUnchanged(org, 'xero', read.revision, rotated)).toBe('changed');
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(app(1));
    });

    it('a DELETE after the read: not_found, and the credential is not resurrected', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      await vault.service.delete(principal(org), 'xero');
      const rotated = { ...read.value, refreshToken: 'xero-refresh-token-ROTATED' };
      const err = await failureOf(vault.service.replaceIfUnchanged(org, 'xero', read.revision, rotated));
      expect(err.code).toBe('not_found');
      expect(await rowsOf(vault.ds, org)).toEqual([]);
    });

    it('two writes from one read at once: exactly one lands', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      const values = ['A', 'B'].map((s) => ({ ...read.value, refreshToken: `xero-refresh-token-${s}` }));
      const outcomes = await Promise.all(
        values.map((v) => vault.service.replaceIfUnchanged(org, 'xero', read.revision, v)),
      );
      expect([...outcomes].sort()).toEqual(['changed', 'replaced']);
      vault.service.clearCache();
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(values[outcomes.indexOf('replaced')]);
    });

    it('validates the value and names the place, as update does', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-x-SECRET' });
      const read = await vault.service.readForUpdate(org, 'openai');
      const bad = await failureOf(
        vault.service.replaceIfUnchanged(org, 'openai', read.revision, { apiKey: '' }),
      );
      expect(bad).toMatchObject({ code: 'invalid_credentials' });
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-x-SECRET' });
      const missing = await failureOf(vault.service.readForUpdate(uniqueName('org'), 'openai'));
      expect(missing.code).toBe('not_found');
    });

    it('reads the database, not the cache: a value cached before a write elsewhere is not what it returns', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const cached = await vault.service.getDecrypted(org, 'xero');
      // Another instance's write: this instance's cache has not heard of it.
      const other = await openVault(dir(), backend(), KEY_A);
      try {
        await other.service.put(principal(org), 'xero', app(2));
      } finally {
        await other.ref.close();
      }
      expect(await vault.service.getDecrypted(org, 'xero')).toBe(cached);
      expect((await vault.service.readForUpdate(org, 'xero')).value).toEqual(app(2));
    });

    it('a master key re-wrap after the read is no change (the value is the same): the write lands', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', app(1));
      const read = await vault.service.readForUpdate(org, 'xero');
      const rewrapped = await openVault(dir(), backend(), `${KEY_B},${KEY_A}`);
      try {
        await rewrapped.rotation.rotate();
        expect((await rowsOf(vault.ds, org))[0].key_id).toBe('mk-b');
        const rotated = { ...read.value, refreshToken: 'xero-refresh-token-ROTATED' };
        expect(await rewrapped.service.replaceIfUnchanged(org, 'xero', read.revision, rotated)).toBe(
          'replaced',
        );
        expect(await rewrapped.service.getDecrypted(org, 'xero')).toEqual(rotated);
      } finally {
        await rewrapped.ref.close();
      }
    });
  });
});
