import type { AppConfig } from '../../src/config/config.types';
import { loadConfig } from '../../src/config/load-config';

/** A test configuration in `dataDir` with fixed secrets; `env` adds or overrides variables. */
export function configFor(dataDir: string, env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: 'x'.repeat(40),
    MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
    ...env,
  });
}

/** What production refuses to start without (README, "Configuration"): each must be named when missing. */
export const REQUIRED_IN_PRODUCTION = [
  'JWT_SECRET',
  'MASTER_ENCRYPTION_KEY',
  'DATABASE_URL',
  'REDIS_URL',
  'PUBLIC_BASE_URL',
] as const;
