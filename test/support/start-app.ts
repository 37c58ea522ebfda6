/**
 * Starts the whole application in-process for an e2e test, as `main.ts` does,
 * on 127.0.0.1 with a free port and a temporary DATA_DIR (SQLite file,
 * generated development secrets). Only the variables given here reach the
 * configuration: a developer's shell never leaks in.
 *
 *   const started = await startApp({ MCP_CONFORMANCE_FIXTURES: 'true' });
 *   ... fetch(`${started.url}/health`) ...
 *   await started.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/app.factory';
import type { AppConfig } from '../../src/config/config.types';
import { loadConfig } from '../../src/config/load-config';

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
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    ...env,
  });
  let app: INestApplication | undefined;
  try {
    app = await createApp(config);
    await app.listen(0, '127.0.0.1');
  } catch (e) {
    await app?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const started = app;
  return {
    app: started,
    config,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      try {
        await started.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
