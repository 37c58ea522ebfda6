/**
 * Two instances of the vault sharing PostgreSQL and Redis: a value cached on
 * one is dropped there when the other replaces or deletes it, through the
 * store's pub/sub channel, whose messages name a place and carry no secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import type { Principal } from '../../src/auth/principal';
import { AuditModule } from '../../src/audit/audit.module';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { CredentialsModule } from '../../src/credentials/credentials.module';
import {
  CREDENTIALS_INVALIDATE_CHANNEL,
  CredentialsService,
} from '../../src/credentials/credentials.service';
import { DatabaseModule } from '../../src/database/database.module';
import { KeyValueStore } from '../../src/store/key-value-store';
import { StoreModule } from '../../src/store/store.module';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done(value)` or the deadline; returns the last value. Waits for an event, not for speed. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  deadlineMs = 3000,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await sleep(20);
    value = await read();
  }
  return value;
}

const settle = <T>(p: Promise<T>): Promise<T | { failed: string }> =>
  p.catch((err: { code?: string }) => ({ failed: err.code ?? 'error' }));

describeWithPostgres('credentials cache invalidation across instances', () => {
  describeWithRedis('(PostgreSQL + Redis)', () => {
    const schema = uniqueName('credinv');
    const keyPrefix = `${uniqueName('credinv')}:`;
    let dir: string;
    let a: TestingModule;
    let b: TestingModule;
    let vaultA: CredentialsService;
    let vaultB: CredentialsService;
    const messages: string[] = [];

    const open = async (): Promise<TestingModule> => {
      const config = loadConfig({
        NODE_ENV: 'test',
        DATA_DIR: dir,
        JWT_SECRET: 'j'.repeat(40),
        MASTER_ENCRYPTION_KEY: 'c3'.repeat(32),
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_POOL_SIZE: '3',
        REDIS_URL: TEST_REDIS_URL,
      });
      const ref = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot(config),
          DatabaseModule.forRoot({ schema }),
          StoreModule.forRoot({ keyPrefix }),
          // The credentials REST controller is audited (@Audited), as in the application.
          AuditModule.forRoot(),
          CredentialsModule,
        ],
      }).compile();
      await ref.init();
      return ref;
    };

    const admin = (organizationId: string): Principal => ({
      keyId: 'k',
      userId: 'admin',
      organizationId,
      permissions: ['credentials:write'],
    });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sentia-credinv-'));
      a = await open();
      b = await open();
      vaultA = a.get(CredentialsService);
      vaultB = b.get(CredentialsService);
      await a.get(KeyValueStore).subscribe(CREDENTIALS_INVALIDATE_CHANNEL, (m) => messages.push(m));
    });
    afterAll(async () => {
      if (a) await a.get(DataSource).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await a?.close();
      await b?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the two instances share one Redis store', () => {
      expect(a.get(KeyValueStore).kind).toBe('redis');
      expect(b.get(KeyValueStore).kind).toBe('redis');
    });

    it('drops a cached value on the other instance when one replaces it', async () => {
      const org = uniqueName('org');
      await vaultA.put(admin(org), 'openai', { apiKey: 'sk-v1-SECRET' });
      expect(await vaultA.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-v1-SECRET' });
      expect(await vaultB.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-v1-SECRET' });

      // A direct database change tells no one: each instance keeps serving its cached value.
      await a.get(DataSource).query(`DELETE FROM encrypted_credentials WHERE organization_id = $1`, [org]);
      expect(await vaultA.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-v1-SECRET' });

      await vaultB.put(admin(org), 'openai', { apiKey: 'sk-v2-SECRET' });
      const seen = await eventually(
        () => vaultA.getDecrypted(org, 'openai'),
        (v) => v.apiKey === 'sk-v2-SECRET',
      );
      expect(seen).toEqual({ apiKey: 'sk-v2-SECRET' });
    });

    it('drops it on the other instance after a connector update, and after a delete', async () => {
      const org = uniqueName('org');
      await vaultA.put(
        admin(org),
        'xero',
        { clientId: 'c', clientSecret: 's', refreshToken: 'r1-SECRET' },
        { userId: 'u1' },
      );
      expect((await vaultA.getDecrypted(org, 'xero', 'u1')) as { refreshToken?: string }).toMatchObject({
        refreshToken: 'r1-SECRET',
      });

      const { revision } = await vaultB.readForUpdate(org, 'xero', 'u1');
      await vaultB.replaceIfUnchanged(
        org,
        'xero',
        revision,
        { grantType: 'authorization_code', clientId: 'c', clientSecret: 's', refreshToken: 'r2-SECRET' },
        'u1',
      );
      const refreshed = await eventually(
        () => vaultA.getDecrypted(org, 'xero', 'u1') as Promise<{ refreshToken?: string }>,
        (v) => v.refreshToken === 'r2-SECRET',
      );
      expect(refreshed.refreshToken).toBe('r2-SECRET');

      await vaultB.delete(admin(org), 'xero', { userId: 'u1' });
      const gone = await eventually(
        () => settle(vaultA.getDecrypted(org, 'xero', 'u1')),
        (v) => 'failed' in v,
      );
      expect(gone).toEqual({ failed: 'not_found' });
    });

    it('publishes places and the kind of change only, never a secret', async () => {
      const found = await eventually(
        async () => messages.map((m) => JSON.parse(m) as Record<string, unknown>),
        (ms) => ms.length >= 5,
        3000,
      );
      expect(found.length).toBeGreaterThanOrEqual(5); // 2 puts; put, update, delete
      for (const m of found) {
        expect(Object.keys(m).sort()).toEqual(['change', 'organizationId', 'service', 'userId']);
      }
      // An admin's write or delete, told apart from a connector refreshing its own credential.
      expect(found.slice(-3).map((m) => m.change)).toEqual(['stored', 'refreshed', 'deleted']);
      expect(messages.join('\n')).not.toMatch(/SECRET|sk-|r1-|r2-/);
    });

    // After the test above, which reads every message on the channel.
    it('drops every cached value on a message it cannot read, rather than keep one that may be stale', async () => {
      const org = uniqueName('org');
      for (const garbage of ['not json', JSON.stringify({ organizationId: 7, service: 'openai' })]) {
        // Cached on A once A has heard of the write (its own message would drop it again).
        const heard = new Promise<void>((resolve) => {
          const stop = vaultA.watch((change) => {
            if (change.organizationId === org) resolve(stop());
          });
        });
        await vaultA.put(admin(org), 'openai', { apiKey: 'sk-v1-SECRET' });
        await heard;
        expect(await vaultA.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-v1-SECRET' });
        // A direct database change tells no one: A keeps serving its cached value.
        await a.get(DataSource).query(`DELETE FROM encrypted_credentials WHERE organization_id = $1`, [org]);
        expect(await vaultA.getDecrypted(org, 'openai')).toEqual({ apiKey: 'sk-v1-SECRET' });
        await b.get(KeyValueStore).publish(CREDENTIALS_INVALIDATE_CHANNEL, garbage);
        const gone = await eventually(
          () => settle(vaultA.getDecrypted(org, 'openai')),
          (v) => 'failed' in v,
        );
        expect(gone).toEqual({ failed: 'not_found' });
      }
    });
  });
});
