/**
 * Decrypting stored credentials through CredentialsService.getDecrypted on a
 * SQLite file in a temporary DATA_DIR (the embedded shape), three ways:
 * - cold: the cache is cleared before every call (a row read, a data-key unwrap, a decrypt, JSON parse);
 * - warm: every value already cached (what a tool call pays on the hot path);
 * - crypto only: EnvelopeCipher.open on a record already in memory (no database).
 *
 *   npm run build && node dist/bench/credentials-decrypt.bench.js [iterations]
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuditModule } from '../src/audit/audit.module';
import { ConfigModule } from '../src/config/config.module';
import { loadConfig } from '../src/config/load-config';
import { CredentialsModule } from '../src/credentials/credentials.module';
import { CredentialsService } from '../src/credentials/credentials.service';
import { EnvelopeCipher } from '../src/credentials/crypto/envelope-cipher';
import { DatabaseModule } from '../src/database/database.module';
import { StoreModule } from '../src/store/store.module';
import { load, LoadResult } from './bench-util';

const RECORDS = 200;
const ITERATIONS = Number(process.argv[2] ?? 5000);

function print(name: string, r: LoadResult): void {
  console.log(
    `${name.padEnd(50)} ${r.perSecond.toFixed(0).padStart(8)} ops/s  p50 ${(r.p50 * 1000).toFixed(1).padStart(7)} µs  ` +
      `p99 ${(r.p99 * 1000).toFixed(1).padStart(7)} µs  (${r.requests} ops, ${r.errors} errors)`,
  );
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-bench-cred-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    JWT_SECRET: 'b'.repeat(40),
    MASTER_ENCRYPTION_KEY: 'e7'.repeat(32),
  });

  @Module({
    imports: [
      ConfigModule.forRoot(config),
      DatabaseModule.forRoot(),
      StoreModule.forRoot(),
      AuditModule.forRoot(), // the credentials controller is @Audited
      CredentialsModule,
    ],
  })
  class BenchModule {}

  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error', 'warn'] });
  try {
    const vault = app.get(CredentialsService);
    const cipher = app.get(EnvelopeCipher);
    const org = (i: number) => `bench-org-${i % RECORDS}`;
    const xero = (i: number) => ({
      clientId: `client-${i}`,
      clientSecret: `secret-${i}-${'x'.repeat(32)}`,
      refreshToken: `refresh-${i}-${'y'.repeat(40)}`,
      tenantIds: ['9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a'],
    });
    const principal = (i: number) => ({
      keyId: 'bench',
      userId: 'bench',
      organizationId: org(i),
      permissions: ['admin'],
    });
    for (let i = 0; i < RECORDS; i++) await vault.put(principal(i), 'xero', xero(i));

    const check = (i: number, v: { clientId: string }) => {
      if (v.clientId !== `client-${i % RECORDS}`) throw new Error('wrong value');
    };
    // Warm up the JIT and the SQLite page cache.
    for (let i = 0; i < 500; i++) {
      vault.clearCache();
      check(i, await vault.getDecrypted(org(i), 'xero'));
    }

    const cold = await load(ITERATIONS, 1, async (i) => {
      vault.clearCache();
      check(i, await vault.getDecrypted(org(i), 'xero'));
    });
    for (let i = 0; i < RECORDS; i++) await vault.getDecrypted(org(i), 'xero');
    const warm = await load(ITERATIONS * 10, 1, async (i) =>
      check(i, await vault.getDecrypted(org(i), 'xero')),
    );

    const sealed = cipher.seal(JSON.stringify(xero(0)), {
      organizationId: org(0),
      userId: null,
      service: 'xero',
    });
    const place = { organizationId: org(0), userId: null, service: 'xero' };
    const openOnly = await load(ITERATIONS * 4, 1, async () => {
      cipher.open(sealed, place).fill(0);
    });

    console.log(`credentials decrypt (SQLite, ${RECORDS} records, node ${process.version})`);
    print('getDecrypted, cold cache (DB + unwrap + decrypt)', cold);
    print('getDecrypted, warm cache', warm);
    print('EnvelopeCipher.open only (no DB)', openOnly);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
