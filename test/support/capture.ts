/**
 * Whole-run capture for the secret sweep (test/sweep/secret-sweep.sweep-spec.ts).
 *
 * `npm test` (scripts/run-tests.js) sets SENTIA_TEST_CAPTURE_DIR for a full
 * run; without it every function here does nothing. Under it:
 *   apps/<id>/*.log      each startApp app's log files (LOG_FILES, most verbose level)
 *   audit/<id>.ndjson    every audit_logs row of that app, dumped at close()
 *   spawned/<id>.log     the whole stdout+stderr of each spawnServer process
 *   secrets/<pid>.ndjson every secret the tests know of, one {source, value} per line
 * The sweep then checks that no registered secret, no JWT and no bearer
 * credential appears in any captured log line or audit row. The directory
 * holds secrets in plain text: it is mode 0700 and removed after the run.
 *
 * A spec that sends a secret the support code cannot see (a credential
 * plaintext, a token issued outside TestKey) calls `registerSecret(value)`.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../../src/config/config.types';

export const CAPTURE_ENV = 'SENTIA_TEST_CAPTURE_DIR';
/** Shorter values are too likely to occur by chance to be swept for. */
export const MIN_SECRET_LENGTH = 8;

export const CAPTURE_LAYOUT = {
  apps: 'apps',
  audit: 'audit',
  spawned: 'spawned',
  secrets: 'secrets',
} as const;

/** The run's capture directory, or undefined when this run captures nothing. */
export function captureDir(): string | undefined {
  const dir = process.env[CAPTURE_ENV];
  return dir === undefined || dir === '' ? undefined : dir;
}

let sequence = 0;

/** A name unique across the run's jest workers: pid, a per-process counter and a random part. */
export function captureId(prefix: string): string {
  sequence += 1;
  return `${prefix}-${process.pid}-${sequence}-${Math.random().toString(36).slice(2, 8)}`;
}

/** `<capture>/<sub>/` created if need be; undefined when not capturing. */
export function captureSubdir(sub: string): string | undefined {
  const root = captureDir();
  if (!root) return undefined;
  const dir = join(root, sub);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes a whole capture file (`<capture>/<sub>/<name>`); a no-op when not capturing. */
export function writeCaptureFile(sub: string, name: string, text: string): void {
  const dir = captureSubdir(sub);
  if (dir) writeFileSync(join(dir, name), text, { mode: 0o600 });
}

/**
 * Records `value` as a secret that must never appear in a log line or audit
 * row. `source` says where it came from (shown in sweep failures, never the value).
 */
export function registerSecret(value: string | undefined | null, source = 'test'): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  const dir = captureSubdir(CAPTURE_LAYOUT.secrets);
  if (!dir) return;
  // One small line per append: writes from one process never interleave, and each worker has its own file.
  appendFileSync(join(dir, `${process.pid}.ndjson`), JSON.stringify({ source, value }) + '\n', {
    mode: 0o600,
  });
}

/** The password of a URL such as DATABASE_URL or REDIS_URL, if it has one. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Variables whose values are secrets (or carry one, like a URL with a password). */
const SECRET_VARIABLE = /SECRET|PASSWORD|TOKEN|ENCRYPTION_KEY|API_KEY|_URL/;

/**
 * Registers the secrets in an environment handed to the app: each `kid:secret`
 * entry of JWT_SECRETS / MASTER_ENCRYPTION_KEYS, single values, URL passwords.
 */
export function registerEnvSecrets(env: Record<string, string | undefined>, source: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!value || !SECRET_VARIABLE.test(name)) continue;
    if (name.endsWith('_URL')) {
      registerSecret(urlPassword(value), `${source} ${name} password`);
      continue;
    }
    registerSecret(value, `${source} ${name}`);
    for (const entry of value.split(',')) {
      const colon = entry.indexOf(':');
      registerSecret(colon > 0 ? entry.slice(colon + 1).trim() : entry.trim(), `${source} ${name} entry`);
    }
  }
}

/** Registers the secrets the app actually runs with, given or generated into DATA_DIR/secrets.json. */
export function registerConfigSecrets(config: AppConfig, source: string): void {
  for (const k of config.jwtSigningKeys)
    registerSecret(k.secret.toString('utf8'), `${source} JWT secret ${k.kid}`);
  for (const k of config.masterKeys) {
    registerSecret(k.key.toString('hex'), `${source} master key ${k.id} (hex)`);
    registerSecret(k.key.toString('base64'), `${source} master key ${k.id} (base64)`);
  }
  if (config.database.kind === 'postgres')
    registerSecret(urlPassword(config.database.url), `${source} database password`);
  registerSecret(urlPassword(config.redisUrl), `${source} redis password`);
}

/** Registers the values of a development secrets.json (spawned servers generate one in DATA_DIR). */
export function registerSecretsFile(json: string, source: string): void {
  try {
    const parsed = JSON.parse(json) as Record<string, unknown>;
    for (const [name, value] of Object.entries(parsed))
      if (typeof value === 'string') registerSecret(value, `${source} secrets.json ${name}`);
  } catch {
    /* a half-written file: the server never used it */
  }
}
