/**
 * Shared by the credentials integration specs: opens the vault (Config,
 * Database, Store and Credentials modules) on SQLite or on PostgreSQL in its
 * own schema, and tampers with rows through raw SQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AuditModule } from '../../src/audit/audit.module';
import type { Principal } from '../../src/auth/principal';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { CredentialsKeyRotation } from '../../src/credentials/credentials-key-rotation.service';
import { CredentialsModule } from '../../src/credentials/credentials.module';
import { CredentialsRepository } from '../../src/credentials/credentials.repository';
import { CredentialsService } from '../../src/credentials/credentials.service';
import { DatabaseModule } from '../../src/database/database.module';
import { StoreModule } from '../../src/store/store.module';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';

export const KEY_A = `mk-a:${'a1'.repeat(32)}`;
export const KEY_B = `mk-b:${'b2'.repeat(32)}`;

export interface Backend {
  env: Record<string, string>;
  schema?: string;
}

export interface Vault {
  ref: TestingModule;
  service: CredentialsService;
  rotation: CredentialsKeyRotation;
  repository: CredentialsRepository;
  ds: DataSource;
}

export async function openVault(dataDir: string, backend: Backend, masterKeys: string): Promise<Vault> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: 'j'.repeat(40),
    MASTER_ENCRYPTION_KEYS: masterKeys,
    ...backend.env,
  });
  const ref = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot({ schema: backend.schema }),
      StoreModule.forRoot(),
      // The credentials REST controller is audited (@Audited), as in the application.
      AuditModule.forRoot(),
      CredentialsModule,
    ],
  }).compile();
  await ref.init();
  return {
    ref,
    service: ref.get(CredentialsService),
    rotation: ref.get(CredentialsKeyRotation),
    repository: ref.get(CredentialsRepository),
    ds: ref.get(DataSource),
  };
}

export const principal = (organizationId: string): Principal => ({
  keyId: `key-${organizationId}`,
  userId: `admin-${organizationId}`,
  organizationId,
  permissions: ['admin'],
});

/** Runs SQL written with `?` placeholders on either dialect. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of ad hoc SQL
export function sql(ds: DataSource, text: string, params: unknown[] = []): Promise<any> {
  let n = 0;
  return ds.query(ds.options.type === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text, params);
}

export type SealedColumn = 'ciphertext' | 'iv' | 'auth_tag' | 'wrapped_key';
export const SEALED_COLUMNS: SealedColumn[] = ['ciphertext', 'iv', 'auth_tag', 'wrapped_key'];

export async function rowsOf(ds: DataSource, org: string) {
  return sql(ds, `SELECT * FROM encrypted_credentials WHERE organization_id = ? ORDER BY service`, [org]);
}

/** Flips one bit of a sealed column of every row of `org`, in the database. */
export async function flipBit(ds: DataSource, org: string, column: SealedColumn, byte = 0): Promise<void> {
  for (const row of await rowsOf(ds, org)) {
    const bytes = Buffer.from(row[column], 'base64');
    bytes[byte % bytes.length] ^= 0x01;
    await sql(ds, `UPDATE encrypted_credentials SET ${column} = ? WHERE id = ?`, [
      bytes.toString('base64'),
      row.id,
    ]);
  }
}

/** Every rendering of an error a log or a response might show. */
export const renderings = (err: unknown): string =>
  [String(err), (err as Error)?.message, (err as Error)?.stack, JSON.stringify(err), inspect(err)].join('\n');

export async function failureOf(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; keyId?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

/** A temporary DATA_DIR for a describe block, removed afterwards. */
export function tempDir(prefix: string): () => string {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}

/**
 * Registers `suite` on SQLite and, when PostgreSQL is reachable, on PostgreSQL
 * (a fresh schema, dropped afterwards). `backend()` is the same for every call of one run.
 */
export function onBothDatabases(suite: (label: string, backend: () => Backend) => void): void {
  suite('SQLite', () => ({ env: {} }));
  describeWithPostgres('on PostgreSQL', () => {
    const schema = uniqueName('cred');
    suite('PostgreSQL', () => ({
      env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_POOL_SIZE: '3' },
      schema,
    }));
    afterAll(async () => {
      const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
      await ds.initialize();
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    });
  });
}
