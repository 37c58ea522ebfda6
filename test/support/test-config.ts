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
