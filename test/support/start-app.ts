/**
 * Starts the whole application in-process for an e2e test, as `main.ts` does,
 * on 127.0.0.1 with a free port and a temporary DATA_DIR (SQLite file,
 * generated development secrets). Only the variables given here reach the
 * configuration: a developer's shell never leaks in.
 *
 *   const started = await startApp({ MCP_CONFORMANCE_FIXTURES: 'true' });
 *   ... fetch(`${started.url}/health`) ...
 *   await started.close();
 *
 * Under a whole-run capture (test/support/capture.ts) the app also writes its
 * log files into the capture, registers its secrets, and dumps its audit rows
 * at close(); the test sees the same app and the same console output either way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { WINSTON_MODULE_PROVIDER } from 'nest-winston';
import { DataSource } from 'typeorm';
import { transports, type Logger as WinstonLogger } from 'winston';
import { createApp } from '../../src/app.factory';
import { AuditWriter } from '../../src/audit/audit.writer';
import type { AppConfig } from '../../src/config/config.types';
import { loadConfig } from '../../src/config/load-config';
import {
  CAPTURE_LAYOUT,
  captureDir,
  captureId,
  captureSubdir,
  registerConfigSecrets,
  registerEnvSecrets,
  writeCaptureFile,
} from './capture';

export interface StartedApp {
  app: INestApplication;
  config: AppConfig;
  /** Base URL, e.g. `http://127.0.0.1:43121` (no trailing slash). */
  url: string;
  /** Stops the app and removes its DATA_DIR. */
  close(): Promise<void>;
}

/** `env` adds or overrides variables (e.g. DATABASE_URL, REDIS_URL, MCP_CONFORMANCE_FIXTURES). */
export async function startApp(env: Record<string, string | undefined> = {}): Promise<StartedApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-e2e-'));
  const id = captureId('app');
  registerEnvSecrets(env, `startApp ${id} env`);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    ...appCaptureEnv(id),
    ...env,
  });
  registerConfigSecrets(config, `startApp ${id}`);
  let app: INestApplication | undefined;
  try {
    app = await createApp(config);
    captureAppLogs(app, config);
    await app.listen(0, '127.0.0.1');
  } catch (e) {
    await app?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const started = app;
  let dumped = false;
  return {
    app: started,
    config,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      try {
        if (!dumped) {
          dumped = true;
          await dumpAuditRows(started, id);
        }
        await started.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Under a capture: the app's log files go to `<capture>/apps/<id>/` (the product's LOG_FILES setting). */
function appCaptureEnv(id: string): Record<string, string> {
  const apps = captureSubdir(CAPTURE_LAYOUT.apps);
  return apps ? { LOG_FILES: 'true', LOG_DIR: join(apps, id) } : {};
}

/**
 * Turns the captured combined.log up to the most verbose level. Only that file
 * transport gets its own level: the console, and any sink a test adds, keep
 * inheriting the app's LOG_LEVEL, so stdout and the tests' own log assertions
 * see exactly what they would without a capture. Nest buffers its start-up
 * lines until listen(), so those reach the file at this level too.
 */
function captureAppLogs(app: INestApplication, config: AppConfig): void {
  if (!captureDir() || !config.log.files) return;
  const logger = app.get<WinstonLogger>(WINSTON_MODULE_PROVIDER);
  for (const t of logger.transports) {
    if (t instanceof transports.File && t.dirname === config.log.dir && t.level === undefined)
      t.level = 'silly';
  }
}

/**
 * Every audit_logs row of the app as NDJSON in `<capture>/audit/<id>.ndjson`,
 * read while the app still runs (after the writer flushed its queue). Never
 * throws: a test that already broke its database still closes.
 */
async function dumpAuditRows(app: INestApplication, id: string): Promise<void> {
  if (!captureSubdir(CAPTURE_LAYOUT.audit)) return;
  try {
    await app.get(AuditWriter, { strict: false }).flush();
    const rows: unknown[] = await app.get(DataSource, { strict: false }).query('SELECT * FROM audit_logs');
    writeCaptureFile(
      CAPTURE_LAYOUT.audit,
      `${id}.ndjson`,
      rows.map((r) => JSON.stringify(r) + '\n').join(''),
    );
  } catch (e) {
    writeCaptureFile(
      CAPTURE_LAYOUT.audit,
      `${id}.error`,
      `${(e as Error)?.name}: ${(e as Error)?.message}\n`,
    );
  }
}
