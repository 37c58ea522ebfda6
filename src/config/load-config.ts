import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppConfig, DatabaseConfig, ENVIRONMENTS, Environment, MasterKey, SigningKey } from './config.types';

/** Thrown when the environment cannot be turned into a configuration; names every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const ENV_SUFFIX: Record<Environment, string> = {
  development: 'DEVELOPMENT',
  test: 'TESTING',
  staging: 'STAGING',
  production: 'PRODUCTION',
};

interface EnvDefaults {
  logLevel: string;
  perKey: number;
  perIp: number;
  ssl: boolean;
  metricsPublic: boolean;
  serverTiming: boolean;
  apiDocs: boolean;
}

/** On a developer's machine: no TLS to the database, /metrics open, Server-Timing on, /docs served. */
const LOCAL = {
  perKey: 1000,
  perIp: 100,
  ssl: false,
  metricsPublic: true,
  serverTiming: true,
  apiDocs: true,
};
/** Deployed: TLS to the database, /metrics behind `metrics:read`, no Server-Timing, no /docs. */
const DEPLOYED = {
  perKey: 1000,
  perIp: 100,
  ssl: true,
  metricsPublic: false,
  serverTiming: false,
  apiDocs: false,
};

const DEFAULTS: Record<Environment, EnvDefaults> = {
  development: { ...LOCAL, logLevel: 'info' },
  test: { ...LOCAL, logLevel: 'warn' },
  staging: { ...DEPLOYED, logLevel: 'info' },
  production: { ...DEPLOYED, logLevel: 'info' },
};

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Collects problems while reading variables, so one error can name all of them. */
class Reader {
  readonly problems: string[] = [];
  /** Every variable asked for, set or not (see unknownSettings). */
  readonly asked = new Set<string>();
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    this.asked.add(name);
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      this.problems.push(`${name}: must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.str(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name}: must be true or false (got "${raw}")`);
    return fallback;
  }

  list(name: string): string[] {
    return (this.str(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.str(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      // Never echo the value: URLs carry passwords.
      this.problems.push(
        `${name}: must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`,
      );
      return undefined;
    }
  }
}

function readPackageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    return String(pkg.version);
  } catch {
    try {
      return String(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
    } catch {
      return '0.0.0';
    }
  }
}

interface GeneratedSecrets {
  jwtSecret: string;
  masterEncryptionKey: string;
}

/**
 * Development only: secrets made once and kept in DATA_DIR with mode 0600.
 * A file that cannot be used is a problem naming it, not a stack trace.
 */
function loadOrGenerateSecrets(
  r: Reader,
  dataDir: string,
  generate: boolean,
): { secrets: GeneratedSecrets; file: string } | undefined {
  const file = join(dataDir, 'secrets.json');
  if (!generate && !existsSync(file)) return undefined;
  if (existsSync(file)) {
    let parsed: Partial<GeneratedSecrets> | undefined;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
    } catch (e) {
      r.problems.push(
        `DATA_DIR: ${file} cannot be read as JSON (${(e as NodeJS.ErrnoException).code ?? 'not valid JSON'}); ` +
          'set JWT_SECRET and MASTER_ENCRYPTION_KEY, or move the file away to generate new development secrets ' +
          '(credentials stored under the old key can then no longer be read)',
      );
      return undefined;
    }
    const valid =
      typeof parsed?.jwtSecret === 'string' &&
      parsed.jwtSecret.length >= 32 &&
      typeof parsed.masterEncryptionKey === 'string' &&
      /^[0-9a-f]{64}$/i.test(parsed.masterEncryptionKey);
    if (!valid) {
      r.problems.push(
        `DATA_DIR: ${file} must hold "jwtSecret" (32+ characters) and "masterEncryptionKey" (64 hex characters); ` +
          'set JWT_SECRET and MASTER_ENCRYPTION_KEY, or move the file away to generate new ones',
      );
      return undefined;
    }
    return { secrets: parsed as GeneratedSecrets, file };
  }
  const secrets: GeneratedSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    masterEncryptionKey: randomBytes(32).toString('hex'),
  };
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (e) {
    r.problems.push(
      `DATA_DIR: cannot write development secrets to ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
    return undefined;
  }
  return { secrets, file };
}

/** A problem when `path` exists and is not a directory (it would fail later, with a stack trace). */
function checkDirectory(r: Reader, name: string, path: string): void {
  try {
    if (!statSync(path).isDirectory()) r.problems.push(`${name}: ${path} exists and is not a directory`);
  } catch {
    // Absent (made when needed) or unreadable (the write says so).
  }
}

/**
 * A comma-separated list of `id:value` entries (JWT_SECRETS,
 * MASTER_ENCRYPTION_KEYS): each id a KEY_ID, each value accepted by `valid`,
 * no id twice. Problems name the variable and the entry, never the value.
 */
function parseIdList(
  r: Reader,
  name: string,
  raw: string,
  valid: (value: string) => boolean,
  shape: string,
): { id: string; value: string }[] {
  const out: { id: string; value: string }[] = [];
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Set but naming no key (`,`, or a template whose parts were empty): not a missing setting to fill in.
  if (entries.length === 0) r.problems.push(`${name}: names no key; give at least one ${shape}`);
  for (const [i, entry] of entries.entries()) {
    const idx = entry.indexOf(':');
    const id = idx > 0 ? entry.slice(0, idx) : '';
    const value = idx > 0 ? entry.slice(idx + 1) : '';
    if (!KEY_ID.test(id) || !valid(value)) {
      r.problems.push(`${name}: entry ${i + 1} must be ${shape}`);
      continue;
    }
    if (out.some((e) => e.id === id)) r.problems.push(`${name}: key id "${id}" appears twice`);
    out.push({ id, value });
  }
  return out;
}

function parseSigningKeys(r: Reader, single: string | undefined, multi: string | undefined): SigningKey[] {
  if (multi !== undefined) {
    return parseIdList(
      r,
      'JWT_SECRETS',
      multi,
      (secret) => secret.length >= 32,
      '"kid:secret" with a secret of at least 32 characters',
    ).map(({ id, value }) => ({ kid: id, secret: Buffer.from(value, 'utf8') }));
  }
  if (single === undefined) return [];
  if (single.length < 32) {
    r.problems.push('JWT_SECRET: must be at least 32 characters');
    return [];
  }
  return [{ kid: 'k1', secret: Buffer.from(single, 'utf8') }];
}

function parseMasterKeys(r: Reader, single: string | undefined, multi: string | undefined): MasterKey[] {
  const hex64 = /^[0-9a-fA-F]{64}$/;
  if (multi !== undefined) {
    return parseIdList(
      r,
      'MASTER_ENCRYPTION_KEYS',
      multi,
      (hex) => hex64.test(hex),
      '"id:<64 hex characters>"',
    ).map(({ id, value }) => ({ id, key: Buffer.from(value, 'hex') }));
  }
  if (single === undefined) return [];
  if (!hex64.test(single)) {
    r.problems.push('MASTER_ENCRYPTION_KEY: must be 64 hex characters (32 bytes)');
    return [];
  }
  return [{ id: 'mk1', key: Buffer.from(single, 'hex') }];
}

/** DATABASE_STATEMENT_TIMEOUT_MS: 0 (the server's own setting) or 100 ms to 1 hour; default 10 s. */
function statementTimeout(r: Reader): number {
  const name = 'DATABASE_STATEMENT_TIMEOUT_MS';
  const ms = r.int(name, 10_000, 0, 3_600_000);
  if (ms > 0 && ms < 100) {
    r.problems.push(`${name}: must be 0 (off) or from 100 to 3600000 (got "${ms}")`);
  }
  return ms;
}

/**
 * DATABASE_QUERY_TIMEOUT_MS: 0 (off) or 500 ms to 1 hour, and longer than the
 * statement timeout (the server cancels a slow statement first and keeps the
 * connection; this is for answers that never come); default that plus 5 s.
 */
function queryTimeout(r: Reader, statementMs: number): number {
  const name = 'DATABASE_QUERY_TIMEOUT_MS';
  const fallback = (statementMs > 0 ? statementMs : 10_000) + 5_000;
  const ms = r.int(name, fallback, 0, 3_600_000);
  if (ms > 0 && ms < 500) r.problems.push(`${name}: must be 0 (off) or from 500 to 3600000 (got "${ms}")`);
  else if (ms > 0 && statementMs > 0 && ms <= statementMs)
    r.problems.push(
      `${name}: must be longer than DATABASE_STATEMENT_TIMEOUT_MS (${statementMs}), which cancels a slow statement first`,
    );
  return ms;
}

/** The PostgreSQL statement and query timeouts (the latter checked against the former). */
function databaseTimeouts(r: Reader): { statementTimeoutMs: number; queryTimeoutMs: number } {
  const statementTimeoutMs = statementTimeout(r);
  return { statementTimeoutMs, queryTimeoutMs: queryTimeout(r, statementTimeoutMs) };
}

/**
 * Parses the environment into the typed configuration. In production every
 * missing or malformed variable is reported in one ConfigError; in
 * development and test, missing secrets are generated into DATA_DIR.
 */
export interface LoadConfigOptions {
  /**
   * Without JWT and master-key settings outside staging and production,
   * generate development secrets into DATA_DIR/secrets.json when it has none
   * (default). Off for a command that must create nothing (`audit verify`):
   * an existing file is still read, and the keys are otherwise left empty.
   */
  generateSecrets?: boolean;
}

export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): AppConfig {
  const r = new Reader(env);
  const rawEnv = (r.str('NODE_ENV') ?? 'development').toLowerCase();
  const envName: Environment = (ENVIRONMENTS as readonly string[]).includes(rawEnv)
    ? (rawEnv as Environment)
    : (r.problems.push(`NODE_ENV: must be one of ${ENVIRONMENTS.join(', ')} (got "${rawEnv}")`),
      'production');
  const defaults = DEFAULTS[envName];
  const strict = envName === 'production' || envName === 'staging';
  const suffix = ENV_SUFFIX[envName];

  const dataDir = resolve(r.str('DATA_DIR') ?? './data');
  checkDirectory(r, 'DATA_DIR', dataDir);
  const host = r.str('HOST') ?? (strict ? '0.0.0.0' : '127.0.0.1');
  const port = r.int('PORT', 3000, 0, 65535);

  const dbVar = r.str('DATABASE_URL') !== undefined ? 'DATABASE_URL' : `DATABASE_URL_${suffix}`;
  const dbUrl = r.url(dbVar, ['postgres:', 'postgresql:']);
  const database: DatabaseConfig = dbUrl
    ? {
        kind: 'postgres',
        url: dbUrl,
        ssl: r.bool('DATABASE_SSL', defaults.ssl),
        poolSize: r.int('DATABASE_POOL_SIZE', 10, 1, 200),
        schema: r.str('DATABASE_SCHEMA'),
        ...databaseTimeouts(r),
      }
    : { kind: 'sqlite', path: join(dataDir, r.str('SQLITE_FILE') ?? 'sentia.sqlite') };

  // TLS is DATABASE_SSL's: node-postgres lets TLS parameters in the URL override it, so
  // `?sslmode=disable` would turn production's checked TLS off without a word (and `sslmode=require`
  // would ask for TLS that DATABASE_SSL=false said not to use).
  const urlTls = dbUrl ? [...new URL(dbUrl).searchParams.keys()].filter((k) => PG_URL_TLS_PARAMS.has(k)) : [];
  if (urlTls.length)
    r.problems.push(
      `${dbVar}: must not set TLS itself (${[...new Set(urlTls)].join(', ')}): DATABASE_SSL does ` +
        "(true: TLS with the server's certificate checked; false: none), and the URL's parameters would override it",
    );

  const dbSchema = r.str('DATABASE_SCHEMA');
  if (dbSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(dbSchema)) {
    r.problems.push('DATABASE_SCHEMA: must be a lower-case SQL identifier (a-z, 0-9, _)');
  }

  const redisVar = r.str('REDIS_URL') !== undefined ? 'REDIS_URL' : `REDIS_URL_${suffix}`;
  const redisUrl = r.url(redisVar, ['redis:', 'rediss:']);
  const redisKeyPrefix = r.str('REDIS_KEY_PREFIX') ?? 'sentia:';
  if (!/^[A-Za-z0-9:_.-]{0,64}$/.test(redisKeyPrefix))
    r.problems.push('REDIS_KEY_PREFIX: at most 64 characters of A-Z a-z 0-9 : _ . -');

  let jwtSigningKeys = parseSigningKeys(r, r.str('JWT_SECRET'), r.str('JWT_SECRETS'));
  let masterKeys = parseMasterKeys(r, r.str('MASTER_ENCRYPTION_KEY'), r.str('MASTER_ENCRYPTION_KEYS'));
  let generatedSecretsFile: string | undefined;

  if (strict) {
    const jwtGiven = r.str('JWT_SECRET') ?? r.str('JWT_SECRETS');
    const mkGiven = r.str('MASTER_ENCRYPTION_KEY') ?? r.str('MASTER_ENCRYPTION_KEYS');
    if (!jwtGiven) r.problems.push(`JWT_SECRET: required in ${envName} (or JWT_SECRETS)`);
    if (!mkGiven)
      r.problems.push(`MASTER_ENCRYPTION_KEY: required in ${envName} (or MASTER_ENCRYPTION_KEYS)`);
    if (!dbUrl && r.str(dbVar) === undefined)
      r.problems.push(`DATABASE_URL: required in ${envName} (or DATABASE_URL_${suffix})`);
    if (!redisUrl && r.str(redisVar) === undefined)
      r.problems.push(`REDIS_URL: required in ${envName} (or REDIS_URL_${suffix})`);
    // Every instance must name the same URL: API keys are bound to it, and the default names the port.
    if (r.str('PUBLIC_BASE_URL') === undefined)
      r.problems.push(
        `PUBLIC_BASE_URL: required in ${envName} (the URL clients reach the server at, e.g. https://mcp.example.com; ` +
          'the same on every instance: API keys are bound to it)',
      );
  } else if (jwtSigningKeys.length === 0 || masterKeys.length === 0) {
    const noJwt = !r.str('JWT_SECRET') && !r.str('JWT_SECRETS');
    const noMk = !r.str('MASTER_ENCRYPTION_KEY') && !r.str('MASTER_ENCRYPTION_KEYS');
    if (noJwt || noMk) {
      const generated = r.problems.some((p) => p.startsWith('DATA_DIR:'))
        ? undefined
        : loadOrGenerateSecrets(r, dataDir, options.generateSecrets !== false);
      if (generated) {
        const { secrets, file } = generated;
        generatedSecretsFile = file;
        if (noJwt) jwtSigningKeys = [{ kid: 'k1', secret: Buffer.from(secrets.jwtSecret, 'utf8') }];
        if (noMk) masterKeys = [{ id: 'mk1', key: Buffer.from(secrets.masterEncryptionKey, 'hex') }];
      }
    }
  }

  const logLevel = (r.str('LOG_LEVEL') ?? defaults.logLevel).toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) r.problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);

  const publicBaseUrl =
    r.url('PUBLIC_BASE_URL', ['http:', 'https:']) ??
    `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}`;
  // Paths are appended to it (/mcp, /.well-known/...), and it is the keys' audience, sent back in headers.
  let publicUrl: URL | undefined;
  try {
    publicUrl = new URL(publicBaseUrl);
  } catch {
    r.problems.push('HOST: must be a host name or IP address (PUBLIC_BASE_URL defaults to http://HOST:PORT)');
  }
  if (publicUrl && (publicUrl.username || publicUrl.password || publicUrl.search || publicUrl.hash))
    r.problems.push('PUBLIC_BASE_URL: must not carry a user, password, query or fragment');

  // A client gets this long to send a request's headers, and its whole request: past them, 408 and
  // the connection closes (a slow sender no longer holds a socket for minutes).
  const headersTimeoutMs = r.int('HTTP_HEADERS_TIMEOUT_MS', 15_000, 1_000, 120_000);
  const requestTimeoutMs = r.int('HTTP_REQUEST_TIMEOUT_MS', 60_000, 1_000, 600_000);
  if (requestTimeoutMs < headersTimeoutMs)
    r.problems.push('HTTP_REQUEST_TIMEOUT_MS: must not be shorter than HTTP_HEADERS_TIMEOUT_MS');

  const conformanceFixtures = r.bool('MCP_CONFORMANCE_FIXTURES', false);
  if (conformanceFixtures && envName === 'production') {
    r.problems.push('MCP_CONFORMANCE_FIXTURES: test fixtures are refused in production');
  }

  const auditMode = (r.str('AUDIT_MODE') ?? 'sync').toLowerCase();
  if (auditMode !== 'sync' && auditMode !== 'async') r.problems.push('AUDIT_MODE: must be sync or async');
  const auditDurability = (r.str('AUDIT_DURABILITY') ?? 'database').toLowerCase();
  if (auditDurability !== 'database' && auditDurability !== 'journal')
    r.problems.push('AUDIT_DURABILITY: must be database or journal');

  const config: AppConfig = {
    env: envName,
    appName: 'sentia-mcp',
    appVersion: r.str('APP_VERSION') ?? readPackageVersion(),
    host,
    port,
    publicBaseUrl: publicBaseUrl.replace(/\/+$/, ''),
    dataDir,
    database,
    runMigrations: r.bool('RUN_MIGRATIONS', true),
    redisUrl,
    redisKeyPrefix,
    jwtSigningKeys,
    jwtIssuer: r.str('JWT_ISSUER') ?? 'sentia-mcp',
    masterKeys,
    generatedSecretsFile,
    log: {
      level: logLevel,
      files: r.bool('LOG_FILES', false),
      dir: resolve(r.str('LOG_DIR') ?? './logs'),
      elasticsearchUrl: r.url('ELASTICSEARCH_URL', ['http:', 'https:']),
    },
    rateLimit: {
      perKeyPerMinute: r.int('RATE_LIMIT_MAX', defaults.perKey, 1, 10_000_000),
      perIpPerMinute: r.int('RATE_LIMIT_IP_MAX', defaults.perIp, 1, 10_000_000),
    },
    cacheTtlSeconds: r.int('CACHE_TTL', 300, 0, 86_400),
    metricsPublic: r.bool('METRICS_PUBLIC', defaults.metricsPublic),
    apiDocs: r.bool('API_DOCS', defaults.apiDocs),
    serverTiming: r.bool('SERVER_TIMING', defaults.serverTiming),
    authorizationServers: urlList(r, 'AUTHORIZATION_SERVERS'),
    mcp: {
      allowedOrigins: originList(r, 'ALLOWED_ORIGINS'),
      allowedHosts: hostList(r, 'ALLOWED_HOSTS'),
      maxBodyBytes: r.int('MCP_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      sessionTtlSeconds: r.int('MCP_SESSION_TTL', 3600, 60, 7 * 86_400),
      maxSessionsPerKey: r.int('MCP_MAX_SESSIONS_PER_KEY', 100, 1, 100_000),
      maxStreamsPerOrg: r.int('MCP_MAX_STREAMS_PER_ORG', 256, 1, 100_000),
      conformanceFixtures,
      toolCacheTtlSeconds: r.int('MCP_TOOL_CACHE_TTL', 30, 0, 3600),
      toolCacheMaxEntryBytes: r.int('MCP_TOOL_CACHE_MAX_ENTRY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    },
    audit: {
      mode: auditMode === 'async' ? 'async' : 'sync',
      durability: auditDurability === 'journal' ? 'journal' : 'database',
      hedgeAfterMs: r.int('AUDIT_HEDGE_MS', 0, 0, 1000),
      writeTimeoutMs: r.int('AUDIT_WRITE_TIMEOUT_MS', 5_000, 100, 600_000),
      exportStallMs: r.int('AUDIT_EXPORT_STALL_MS', 60_000, 1_000, 3_600_000),
      storeArgs: r.bool('AUDIT_STORE_ARGS', false),
      batchWindowMs: r.int('AUDIT_BATCH_WINDOW_MS', 0, 0, 1000),
      batchMaxRows: r.int('AUDIT_BATCH_MAX_ROWS', 500, 1, 10_000),
      batchesInFlight: r.int('AUDIT_BATCHES_IN_FLIGHT', 2, 1, 16),
      retentionMonths: r.int('AUDIT_RETENTION_MONTHS', 0, 0, 1200),
    },
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 10_000, 0, 120_000),
    // Longer than a load balancer's idle timeout (commonly 60 s), so the balancer, not the server,
    // closes an idle keep-alive connection: Node's 5 s default races it into 502s and resets.
    keepAliveTimeoutMs: r.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1_000, 290_000),
    trustProxyHops: r.int('TRUST_PROXY_HOPS', strict ? 1 : 0, 0, 10),
    headersTimeoutMs,
    requestTimeoutMs,
    connectors: {
      timeoutMs: r.int('UPSTREAM_TIMEOUT_MS', 30_000, 100, 600_000),
      maxRetries: r.int('UPSTREAM_MAX_RETRIES', 2, 0, 10),
      maxRetryWaitMs: r.int('UPSTREAM_MAX_RETRY_WAIT_MS', 10_000, 0, 120_000),
      maxBodyBytes: r.int('UPSTREAM_MAX_BODY_BYTES', 10 * 1024 * 1024, 1024, 256 * 1024 * 1024),
      breakerFailures: r.int('UPSTREAM_BREAKER_FAILURES', 5, 1, 1000),
      breakerOpenMs: r.int('UPSTREAM_BREAKER_OPEN_MS', 30_000, 100, 3_600_000),
      unleashedMonthlyQuota: r.int('UNLEASHED_MONTHLY_QUOTA', 0, 0, 1_000_000_000),
      baseUrls: {
        xeroApi: upstreamUrl(r, 'XERO_API_BASE_URL', 'https://api.xero.com'),
        xeroIdentity: upstreamUrl(r, 'XERO_IDENTITY_BASE_URL', 'https://identity.xero.com'),
        shopify: r.str('SHOPIFY_BASE_URL') === undefined ? undefined : upstreamUrl(r, 'SHOPIFY_BASE_URL', ''),
        unleashed: upstreamUrl(r, 'UNLEASHED_BASE_URL', 'https://api.unleashedsoftware.com'),
        anthropic: upstreamUrl(r, 'ANTHROPIC_BASE_URL', 'https://api.anthropic.com'),
        openai: upstreamUrl(r, 'OPENAI_BASE_URL', 'https://api.openai.com/v1'),
      },
    },
  };

  if (config.log.files) checkDirectory(r, 'LOG_DIR', config.log.dir);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  config.unknownSettings = unknownSettings(env, r.asked);
  return config;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * An upstream service's base URL (default: the real API), without a trailing
 * slash. Credentials travel to it, so it must be https: plain http is taken
 * only for a loopback host (a local simulator), and a URL carrying a user,
 * password, query or fragment is refused.
 */
function upstreamUrl(r: Reader, name: string, fallback: string): string {
  const raw = r.str(name);
  if (raw === undefined) return fallback;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    r.problems.push(`${name}: must be an https URL (http only for 127.0.0.1, localhost or [::1])`);
    return fallback;
  }
  const secure = u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
  if (!secure) r.problems.push(`${name}: must be an https URL (http only for 127.0.0.1, localhost or [::1])`);
  else if (u.username || u.password || u.search || u.hash)
    r.problems.push(`${name}: must not carry a user, password, query or fragment`);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/**
 * ALLOWED_HOSTS: host names (a port is taken and ignored). A URL there (`https://mcp.example.com`)
 * would never match a Host header, so every /mcp request would get 403; it is named at boot instead.
 */
function hostList(r: Reader, name: string): string[] {
  const hosts = r.list(name);
  for (const h of hosts)
    if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(h))
      r.problems.push(
        `${name}: each must be a host name such as mcp.example.com, no scheme or path, an IPv6 address in ` +
          `brackets ([::1]) (got ${JSON.stringify(h)})`,
      );
  return hosts;
}

/** ALLOWED_ORIGINS: origins as browsers send them (`https://app.example.com`), which a bare host never matches. */
function originList(r: Reader, name: string): string[] {
  const origins = r.list(name);
  for (const o of origins) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = ['http:', 'https:'].includes(u.protocol) && u.origin === o.toLowerCase().replace(/\/+$/, '');
    } catch {
      /* not a URL */
    }
    if (!ok)
      r.problems.push(
        `${name}: each must be an origin such as https://app.example.com, no path (got ${JSON.stringify(o)})`,
      );
  }
  return origins;
}

/** AUTHORIZATION_SERVERS: issuer URLs, published as they are in the resource metadata for clients to follow. */
function urlList(r: Reader, name: string): string[] {
  const urls = r.list(name);
  for (const u of urls) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      /* not a URL */
    }
    if (!ok) r.problems.push(`${name}: each must be an http or https URL (got ${JSON.stringify(u)})`);
  }
  return urls;
}

/** Connection-string parameters by which node-postgres sets TLS, overriding the `ssl` option. */
const PG_URL_TLS_PARAMS = new Set([
  'ssl',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'sslnegotiation',
  'uselibpqcompat',
]);

/** The prefixes of this server's settings: a set variable with one of them that nothing reads is a typo. */
const SETTING_PREFIXES = [
  'ALLOWED_',
  'API_DOCS',
  'APP_VERSION',
  'AUDIT_',
  'AUTHORIZATION_SERVERS',
  'CACHE_TTL',
  'DATABASE_',
  'ELASTICSEARCH_',
  'HTTP_',
  'JWT_',
  'LOG_',
  'MASTER_ENCRYPTION_',
  'MCP_',
  'METRICS_',
  'PUBLIC_BASE_URL',
  'RATE_LIMIT_',
  'REDIS_',
  'RUN_MIGRATIONS',
  'SERVER_TIMING',
  'SHUTDOWN_',
  'SQLITE_',
  'TRUST_PROXY',
  'UNLEASHED_',
  'UPSTREAM_',
  'XERO_',
  'SHOPIFY_',
];

/** Variables that share a prefix with this server's settings but belong to other programs. */
const OTHERS_SETTINGS = new Set(['HTTP_PROXY']);

/**
 * Variables set in `env` that look like this server's settings (a known
 * prefix) but that it does not read: `MCP_SESSION_TTL_SECONDS` for
 * `MCP_SESSION_TTL`, say. Ignored as before, but the boot names them.
 */
function unknownSettings(env: Env, asked: ReadonlySet<string>): string[] {
  // Read only in the shape they belong to: known all the same.
  const known = new Set([
    ...asked,
    'DATABASE_SSL',
    'DATABASE_POOL_SIZE',
    'DATABASE_SCHEMA',
    'DATABASE_STATEMENT_TIMEOUT_MS',
    'DATABASE_QUERY_TIMEOUT_MS',
    'SQLITE_FILE',
  ]);
  for (const base of ['DATABASE_URL', 'REDIS_URL'])
    for (const suffix of Object.values(ENV_SUFFIX)) known.add(`${base}_${suffix}`);
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && !known.has(name) && !OTHERS_SETTINGS.has(name))
    .filter(
      (name) =>
        SETTING_PREFIXES.some((prefix) => name.startsWith(prefix)) ||
        [...known].some((setting) => nearMiss(name, setting)),
    )
    .sort();
}

/**
 * `name` is one slip from `setting` (a letter missing, extra, wrong, or two swapped; two slips
 * in a name of 12 or more): `RATE_LIMT_MAX`, `NODE_NEV`. Names under 8 characters (`HOST`,
 * `PORT`) are not guessed at: too many unrelated variables are a letter or two from them.
 */
function nearMiss(name: string, setting: string): boolean {
  if (setting.length < 8) return false;
  const most = setting.length >= 12 ? 2 : 1;
  if (Math.abs(name.length - setting.length) > most) return false;
  // Optimal string alignment distance, row by row.
  let before: number[] = [];
  let prev = Array.from({ length: setting.length + 1 }, (_, j) => j);
  for (let i = 1; i <= name.length; i++) {
    const row = [i];
    for (let j = 1; j <= setting.length; j++) {
      const cost = name[i - 1] === setting[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && name[i - 1] === setting[j - 2] && name[i - 2] === setting[j - 1])
        row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[setting.length] <= most;
}
