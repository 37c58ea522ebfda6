/**
 * The credentials vault against real databases (SQLite file, PostgreSQL in
 * its own schema): round trips, upsert semantics, organisation scoping,
 * tampering at the SQL level, and the local cache.
 */
import { uniqueName } from '../support/backends';
import {
  failureOf,
  flipBit,
  KEY_A,
  onBothDatabases,
  openVault,
  principal,
  renderings,
  rowsOf,
  SEALED_COLUMNS,
  sql,
  tempDir,
  Vault,
} from './credentials-harness';

const SECRET = 'sk-ant-api03-VERY-SECRET-0123456789abcdef';
const XERO = {
  clientId: 'XERO-CLIENT-ID-1',
  clientSecret: 'xero-client-secret-VERY-SECRET',
  refreshToken: 'xero-refresh-token-VERY-SECRET',
  tenantIds: ['0e6f8b4c-1111-4a3b-9c8d-123456789abc'],
};

onBothDatabases((label, backend) => {
  describe(`vault (${label})`, () => {
    const dir = tempDir('sentia-cred-');
    let vault: Vault;

    beforeAll(async () => {
      vault = await openVault(dir(), backend(), KEY_A);
    });
    afterAll(async () => {
      await vault?.ref.close();
    });

    it('stores and reads back every service, and answers with metadata only', async () => {
      const org = uniqueName('org');
      const bodies = {
        xero: XERO,
        shopify: { shop: 'my-store.myshopify.com', accessToken: 'shpat_SECRET_1', apiVersion: '2025-07' },
        unleashed: { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: 'unleashed-SECRET' },
        anthropic: { apiKey: SECRET },
        openai: { apiKey: 'sk-openai-SECRET' },
      };
      for (const [service, body] of Object.entries(bodies)) {
        const meta = await vault.service.put(principal(org), service, body);
        expect(meta).toEqual({
          service,
          userId: null,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          keyId: 'mk-a',
          fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
        });
        expect(JSON.stringify(meta)).not.toMatch(/SECRET/);
      }
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual({
        grantType: 'authorization_code',
        ...XERO,
      });
      expect(await vault.service.getDecrypted(org, 'shopify')).toEqual(bodies.shopify);
      expect(await vault.service.getDecrypted(org, 'unleashed')).toEqual(bodies.unleashed);
      expect(await vault.service.getDecrypted(org, 'anthropic')).toEqual({ apiKey: SECRET });
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual(bodies.openai);

      const list = await vault.service.list(principal(org));
      expect(list.map((m) => m.service)).toEqual(['anthropic', 'openai', 'shopify', 'unleashed', 'xero']);
      expect(JSON.stringify(list)).not.toMatch(/SECRET/);
      expect(await vault.service.get(principal(org), 'xero')).toEqual(list[4]);
    });

    it('keeps no plaintext in the database, and two encryptions of one secret differ', async () => {
      const [o1, o2] = [uniqueName('org'), uniqueName('org')];
      await vault.service.put(principal(o1), 'anthropic', { apiKey: SECRET });
      const first = (await rowsOf(vault.ds, o1))[0];
      await vault.service.put(principal(o1), 'anthropic', { apiKey: SECRET }); // same place again
      await vault.service.put(principal(o2), 'anthropic', { apiKey: SECRET });
      const [again] = await rowsOf(vault.ds, o1);
      const [other] = await rowsOf(vault.ds, o2);
      for (const column of SEALED_COLUMNS) {
        expect(again[column]).not.toBe(first[column]);
        expect(other[column]).not.toBe(first[column]);
      }
      for (const row of [first, again, other]) {
        const text = JSON.stringify(row);
        for (const form of [
          SECRET,
          Buffer.from(SECRET).toString('base64'),
          Buffer.from(SECRET).toString('hex'),
        ]) {
          expect(text).not.toContain(form);
        }
      }
      expect(await vault.service.getDecrypted(o2, 'anthropic')).toEqual({ apiKey: SECRET });
    });

    it('replaces in place (the seed upsert): one row, same id and created_at, fingerprint follows the secret', async () => {
      const org = uniqueName('org');
      const first = await vault.service.put(principal(org), 'openai', { apiKey: 'sk-one' });
      const [row1] = await rowsOf(vault.ds, org);
      await new Promise((r) => setTimeout(r, 20));
      const second = await vault.service.put(principal(org), 'openai', { apiKey: 'sk-two' });
      const rows = await rowsOf(vault.ds, org);
      expect(rows).toHaveLength(1);
      expect(rows[0].id).toBe(row1.id);
      expect(second.createdAt).toBe(first.createdAt);
      expect(Date.parse(second.updatedAt)).toBeGreaterThan(Date.parse(first.updatedAt));
      expect(second.fingerprint).not.toBe(first.fingerprint);
      const third = await vault.service.put(principal(org), 'openai', { apiKey: 'sk-one' });
      expect(third.fingerprint).toBe(first.fingerprint);
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-one' });
    });

    it('says whether a store created or replaced, also when first stores of one place race', async () => {
      const org = uniqueName('org');
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          vault.service.storeOrReplace(principal(org), 'openai', { apiKey: `sk-race-${i}` }),
        ),
      );
      // One statement inserted; the others found its row and replaced the value (201 once, 200 after).
      expect(outcomes.filter((o) => o.created)).toHaveLength(1);
      expect(await rowsOf(vault.ds, org)).toHaveLength(1);
      expect((await vault.service.storeOrReplace(principal(org), 'openai', { apiKey: 'sk-x' })).created).toBe(
        false,
      );
    });

    it('keeps organisation-wide and per-user credentials apart, and other organisations out', async () => {
      const [org, stranger] = [uniqueName('org'), uniqueName('org')];
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-org' });
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-user' }, { userId: 'u1' });
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-org' });
      expect(await vault.service.getDecrypted(org, 'openai', 'u1')).toEqual({ apiKey: 'sk-user' });
      expect((await failureOf(vault.service.getDecrypted(org, 'openai', 'u2'))).code).toBe('not_found');
      expect((await vault.service.list(principal(org))).map((m) => m.userId)).toEqual([null, 'u1']);

      expect(await vault.service.list(principal(stranger))).toEqual([]);
      expect((await failureOf(vault.service.get(principal(stranger), 'openai'))).code).toBe('not_found');
      expect((await failureOf(vault.service.delete(principal(stranger), 'openai'))).code).toBe('not_found');
      expect((await failureOf(vault.service.getDecrypted(stranger, 'openai'))).code).toBe('not_found');
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-org' });

      // The organisation's credential is the row without a user, never a user's row in its place.
      await vault.service.delete(principal(org), 'openai');
      expect((await rowsOf(vault.ds, org)).map((r: { user_id: string | null }) => r.user_id)).toEqual(['u1']);
      vault.service.clearCache();
      expect((await failureOf(vault.service.getDecrypted(org, 'openai'))).code).toBe('not_found');
      expect((await failureOf(vault.service.readForUpdate(org, 'openai'))).code).toBe('not_found');
      expect((await failureOf(vault.service.get(principal(org), 'openai'))).code).toBe('not_found');
      expect((await failureOf(vault.service.delete(principal(org), 'openai'))).code).toBe('not_found');
      expect(await vault.service.getDecrypted(org, 'openai', 'u1')).toEqual({ apiKey: 'sk-user' });
    });

    it('deletes, and the cached value goes with it', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-del' }, { userId: 'u1' });
      expect(await vault.service.getDecrypted(org, 'openai', 'u1')).toEqual({ apiKey: 'sk-del' });
      await vault.service.delete(principal(org), 'openai', { userId: 'u1' });
      expect((await failureOf(vault.service.getDecrypted(org, 'openai', 'u1'))).code).toBe('not_found');
      expect((await failureOf(vault.service.delete(principal(org), 'openai', { userId: 'u1' }))).code).toBe(
        'not_found',
      );
      expect(await rowsOf(vault.ds, org)).toEqual([]);
      // One record for the one delete that removed something; the refused one records no change.
      const audited = await sql(
        vault.ds,
        `SELECT action, outcome FROM audit_logs WHERE organization_id = ? AND action = 'credential.delete'`,
        [org],
      );
      expect(audited).toEqual([{ action: 'credential.delete', outcome: 'success' }]);
    });

    it('serves reads from its cache and drops the entry when a connector updates the value', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'xero', XERO);
      const before = await vault.service.getDecrypted(org, 'xero');
      expect(Object.isFrozen(before)).toBe(true);
      // A connector's write-back reads the revision first; the damage below is to a column it does not compare.
      const { revision } = await vault.service.readForUpdate(org, 'xero');
      await flipBit(vault.ds, org, 'wrapped_key'); // the cache, not the (now damaged) row, answers
      expect(await vault.service.getDecrypted(org, 'xero')).toBe(before);

      const rotated = { ...before, refreshToken: 'xero-refresh-token-NEW' };
      await vault.service.replaceIfUnchanged(org, 'xero', revision, rotated);
      expect(await vault.service.getDecrypted(org, 'xero')).toEqual(rotated);
      // The fingerprint follows the secret: the one a store of the same value elsewhere gives.
      const same = await vault.service.put(principal(uniqueName('org')), 'xero', rotated);
      expect((await vault.service.get(principal(org), 'xero')).fingerprint).toBe(same.fingerprint);
      const [row] = await rowsOf(vault.ds, org);
      expect(JSON.stringify(row)).not.toContain('xero-refresh-token-NEW');
    });

    it('does not cache a value read before a write that landed while the read was in flight', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-old' });
      // Holds the reader between its database read and its return, as a slow query would.
      let readDone!: () => void;
      const read = new Promise<void>((resolve) => (readDone = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const findSealed = vault.repository.findSealed.bind(vault.repository);
      const spy = jest.spyOn(vault.repository, 'findSealed').mockImplementationOnce(async (place) => {
        const row = await findSealed(place);
        readDone();
        await released;
        return row;
      });
      try {
        const slowRead = vault.service.getDecrypted(org, 'openai');
        await read;
        await vault.service.put(principal(org), 'openai', { apiKey: 'sk-new' });
        release();
        expect(await slowRead).toEqual({ apiKey: 'sk-old' }); // what it read, but it must not stay
      } finally {
        spy.mockRestore();
      }
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-new' });
    });

    it('a connector write validates, and never resurrects a deleted credential', async () => {
      const org = uniqueName('org');
      const err = await failureOf(vault.service.readForUpdate(org, 'openai'));
      expect(err.code).toBe('not_found');
      expect(await rowsOf(vault.ds, org)).toEqual([]);
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-x' });
      const { revision } = await vault.service.readForUpdate(org, 'openai');
      const bad = await failureOf(vault.service.replaceIfUnchanged(org, 'openai', revision, { apiKey: '' }));
      expect(bad).toMatchObject({
        code: 'invalid_credentials',
        errors: [{ field: 'apiKey', message: 'must not be empty' }],
      });
    });

    it('refuses an unknown service, an invalid body and a bad user id, naming them', async () => {
      const p = principal(uniqueName('org'));
      const unknown = await failureOf(vault.service.put(p, 'github', { apiKey: 'x' }));
      expect(unknown).toMatchObject({ code: 'unknown_service' });
      expect(unknown.message).toBe(
        'unknown service "github": must be one of xero, shopify, unleashed, anthropic, openai',
      );
      const invalid = await failureOf(
        vault.service.put(p, 'shopify', {
          shop: 'x.example.com',
          accessToken: 'shpat_SECRET',
          apiVersion: '2025-07',
          extra: 1,
        }),
      );
      expect(invalid).toMatchObject({ code: 'invalid_credentials' });
      expect((invalid as unknown as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
        'shop',
        'extra',
      ]);
      expect(renderings(invalid)).not.toContain('shpat_SECRET');
      expect(await failureOf(vault.service.put(p, 'openai', { apiKey: 'x' }, { userId: '' }))).toMatchObject({
        code: 'invalid_user_id',
      });
      expect(await vault.service.list(p)).toEqual([]);
    });

    describe('tampering in the database', () => {
      it.each(SEALED_COLUMNS)('a flipped bit in %s gives decrypt_failed and no plaintext', async (column) => {
        const org = uniqueName('org');
        await vault.service.put(principal(org), 'anthropic', { apiKey: SECRET });
        await flipBit(vault.ds, org, column, 5);
        const err = await failureOf(vault.service.getDecrypted(org, 'anthropic'));
        expect(err).toMatchObject({ name: 'CredentialsError', code: 'decrypt_failed', keyId: 'mk-a' });
        expect(renderings(err)).not.toContain(SECRET);
        // The damage is the only reason: a fresh PUT at the same place reads again.
        await vault.service.put(principal(org), 'anthropic', { apiKey: SECRET });
        expect(await vault.service.getDecrypted(org, 'anthropic')).toEqual({ apiKey: SECRET });
      });

      it('a row moved to another organisation, user or service does not open there', async () => {
        const [org, thief] = [uniqueName('org'), uniqueName('org')];
        await vault.service.put(principal(org), 'openai', { apiKey: SECRET });
        await sql(
          vault.ds,
          `UPDATE encrypted_credentials SET organization_id = ? WHERE organization_id = ?`,
          [thief, org],
        );
        const moved = await failureOf(vault.service.getDecrypted(thief, 'openai'));
        expect(moved).toMatchObject({ code: 'decrypt_failed' });
        expect(renderings(moved)).not.toContain(SECRET);
        expect((await failureOf(vault.service.getDecrypted(org, 'openai'))).code).toBe('not_found');

        await sql(vault.ds, `UPDATE encrypted_credentials SET user_id = 'u9' WHERE organization_id = ?`, [
          thief,
        ]);
        expect((await failureOf(vault.service.getDecrypted(thief, 'openai', 'u9'))).code).toBe(
          'decrypt_failed',
        );
        await sql(
          vault.ds,
          `UPDATE encrypted_credentials SET service = 'anthropic', user_id = NULL WHERE organization_id = ?`,
          [thief],
        );
        expect((await failureOf(vault.service.getDecrypted(thief, 'anthropic'))).code).toBe('decrypt_failed');
      });

      it('sealed columns copied from another row do not open', async () => {
        const [victim, attacker] = [uniqueName('org'), uniqueName('org')];
        await vault.service.put(principal(victim), 'openai', { apiKey: SECRET });
        await vault.service.put(principal(attacker), 'openai', { apiKey: 'sk-attacker' });
        const [v] = await rowsOf(vault.ds, victim);
        await sql(
          vault.ds,
          `UPDATE encrypted_credentials SET ciphertext = ?, iv = ?, auth_tag = ?, wrapped_key = ? WHERE organization_id = ?`,
          [v.ciphertext, v.iv, v.auth_tag, v.wrapped_key, attacker],
        );
        const err = await failureOf(vault.service.getDecrypted(attacker, 'openai'));
        expect(err).toMatchObject({ code: 'decrypt_failed' });
        expect(renderings(err)).not.toContain(SECRET);
      });
    });

    it('re-wraps only a row that still holds the wrap it read (rotation loses no concurrent write)', async () => {
      const org = uniqueName('org');
      await vault.service.put(principal(org), 'openai', { apiKey: 'sk-cas' });
      const [row] = await rowsOf(vault.ds, org);
      const stale = { keyId: 'mk-a', wrappedKey: Buffer.alloc(60, 1) };
      const to = { keyId: 'mk-z', wrappedKey: Buffer.alloc(60, 2), fingerprint: '00000000' };
      expect(await vault.repository.updateWrap(row.id, stale, to)).toBe(false);
      expect((await rowsOf(vault.ds, org))[0].key_id).toBe('mk-a');
      expect(await vault.service.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-cas' });
    });
  });
});
