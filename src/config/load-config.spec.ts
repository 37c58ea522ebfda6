import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIRED_IN_PRODUCTION } from '../../test/support/test-config';
import { ConfigError, loadConfig } from './load-config';

const tmp = () => mkdtempSync(join(tmpdir(), 'sentia-config-'));
const HEX = 'a'.repeat(64);
const SECRET = 'x'.repeat(40);

describe('loadConfig', () => {
  it('starts with no settings at all in development: SQLite in DATA_DIR, memory store, generated secrets', () => {
    const dir = tmp();
    const c = loadConfig({ DATA_DIR: dir });
    expect(c.env).toBe('development');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(c.database).toEqual({ kind: 'sqlite', path: join(dir, 'sentia.sqlite') });
    expect(c.redisUrl).toBeUndefined();
    expect(c.jwtSigningKeys).toHaveLength(1);
    expect(c.masterKeys[0].key).toHaveLength(32);
    const file = join(dir, 'secrets.json');
    expect(c.generatedSecretsFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // A second start reads the same secrets instead of making new ones.
    const again = loadConfig({ DATA_DIR: dir });
    expect(again.jwtSigningKeys[0].secret.equals(c.jwtSigningKeys[0].secret)).toBe(true);
    expect(again.masterKeys[0].key.equals(c.masterKeys[0].key)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).masterEncryptionKey).toBe(
      c.masterKeys[0].key.toString('hex'),
    );
  });

  it('refuses to start in production without secrets and names every missing variable in one message', () => {
    let err: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of REQUIRED_IN_PRODUCTION) expect(msg).toContain(name);
    expect(msg).toContain('the same on every instance');
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('reports malformed values without echoing secrets', () => {
    const pw = 'hunter2-password';
    try {
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'short',
        MASTER_ENCRYPTION_KEY: 'zz',
        DATABASE_URL: `mysql://u:${pw}@h/db`,
        REDIS_URL: 'redis://127.0.0.1:6379',
        PORT: 'eighty',
      });
      throw new Error('expected ConfigError');
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain('JWT_SECRET: must be at least 32 characters');
      expect(msg).toContain('MASTER_ENCRYPTION_KEY: must be 64 hex characters');
      expect(msg).toContain('DATABASE_URL: must be a URL with scheme postgres or postgresql');
      expect(msg).toContain('PORT: must be an integer');
      expect(msg).not.toContain(pw);
      expect(msg).not.toContain('short');
    }
  });

  it('namespaces Redis with REDIS_KEY_PREFIX (default sentia:) and refuses a prefix with spaces or braces', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).redisKeyPrefix).toBe('sentia:');
    expect(loadConfig({ DATA_DIR: tmp(), REDIS_KEY_PREFIX: 'staging:' }).redisKeyPrefix).toBe('staging:');
    expect(() => loadConfig({ DATA_DIR: tmp(), REDIS_KEY_PREFIX: 'a b{c}' })).toThrow(
      /REDIS_KEY_PREFIX: at most 64 characters/,
    );
  });

  it('keeps idle keep-alive connections 65 s by default (above load balancers) and bounds HTTP_KEEP_ALIVE_TIMEOUT_MS', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).keepAliveTimeoutMs).toBe(65_000);
    expect(loadConfig({ DATA_DIR: tmp(), HTTP_KEEP_ALIVE_TIMEOUT_MS: '120000' }).keepAliveTimeoutMs).toBe(
      120_000,
    );
    expect(() => loadConfig({ DATA_DIR: tmp(), HTTP_KEEP_ALIVE_TIMEOUT_MS: '500' })).toThrow(
      /HTTP_KEEP_ALIVE_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ DATA_DIR: tmp(), HTTP_KEEP_ALIVE_TIMEOUT_MS: 'soon' })).toThrow(
      /HTTP_KEEP_ALIVE_TIMEOUT_MS: must be an integer/,
    );
  });

  it('makes audit records durable in the database by default, in the local journal with AUDIT_DURABILITY=journal', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).audit).toMatchObject({ mode: 'sync', durability: 'database' });
    expect(loadConfig({ DATA_DIR: tmp(), AUDIT_DURABILITY: 'Journal' }).audit.durability).toBe('journal');
    expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_DURABILITY: 'disk' })).toThrow(
      /AUDIT_DURABILITY: must be database or journal/,
    );
  });

  it('writes up to 2 audit batches at once by default and bounds AUDIT_BATCHES_IN_FLIGHT to 1-16', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).audit.writeTimeoutMs).toBe(5000);
    expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_WRITE_TIMEOUT_MS: '50' })).toThrow(
      /AUDIT_WRITE_TIMEOUT_MS: /,
    );
    expect(loadConfig({ DATA_DIR: tmp() }).audit.hedgeAfterMs).toBe(0);
    expect(loadConfig({ DATA_DIR: tmp(), AUDIT_HEDGE_MS: '3' }).audit.hedgeAfterMs).toBe(3);
    for (const bad of ['-1', '1001', 'soon'])
      expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_HEDGE_MS: bad })).toThrow(/AUDIT_HEDGE_MS: /);
    expect(loadConfig({ DATA_DIR: tmp() }).audit.batchesInFlight).toBe(2);
    expect(loadConfig({ DATA_DIR: tmp(), AUDIT_BATCHES_IN_FLIGHT: '1' }).audit.batchesInFlight).toBe(1);
    for (const bad of ['0', '17', 'two'])
      expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_BATCHES_IN_FLIGHT: bad })).toThrow(
        /AUDIT_BATCHES_IN_FLIGHT: /,
      );
  });

  it('keeps every audit record by default; AUDIT_RETENTION_MONTHS is 0-1200 months', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).audit.retentionMonths).toBe(0);
    expect(loadConfig({ DATA_DIR: tmp(), AUDIT_RETENTION_MONTHS: '13' }).audit.retentionMonths).toBe(13);
    for (const bad of ['-1', '1201', '1.5', 'a year'])
      expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_RETENTION_MONTHS: bad })).toThrow(
        /AUDIT_RETENTION_MONTHS: must be an integer from 0 to 1200/,
      );
  });

  it('caches connector answers 30 s by default; MCP_TOOL_CACHE_TTL 0 turns it off; both cache settings are bounded', () => {
    const c = loadConfig({ DATA_DIR: tmp() });
    expect(c.mcp.toolCacheTtlSeconds).toBe(30);
    expect(c.mcp.toolCacheMaxEntryBytes).toBe(1024 * 1024);
    expect(loadConfig({ DATA_DIR: tmp(), MCP_TOOL_CACHE_TTL: '0' }).mcp.toolCacheTtlSeconds).toBe(0);
    for (const bad of ['-1', '3601', 'half a minute'])
      expect(() => loadConfig({ DATA_DIR: tmp(), MCP_TOOL_CACHE_TTL: bad })).toThrow(/MCP_TOOL_CACHE_TTL: /);
    for (const bad of ['1023', String(64 * 1024 * 1024 + 1)])
      expect(() => loadConfig({ DATA_DIR: tmp(), MCP_TOOL_CACHE_MAX_ENTRY_BYTES: bad })).toThrow(
        /MCP_TOOL_CACHE_MAX_ENTRY_BYTES: /,
      );
  });

  it('counts no Unleashed monthly quota by default; UNLEASHED_MONTHLY_QUOTA takes a whole number of calls', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).connectors.unleashedMonthlyQuota).toBe(0);
    expect(
      loadConfig({ DATA_DIR: tmp(), UNLEASHED_MONTHLY_QUOTA: '25000' }).connectors.unleashedMonthlyQuota,
    ).toBe(25_000);
    for (const bad of ['-1', '1.5', 'unlimited'])
      expect(() => loadConfig({ DATA_DIR: tmp(), UNLEASHED_MONTHLY_QUOTA: bad })).toThrow(
        /UNLEASHED_MONTHLY_QUOTA: /,
      );
  });

  it('gives PostgreSQL statements 10 s by default; 0 leaves the server its own; 1-99 ms or junk is refused', () => {
    const pg = (extra: Record<string, string> = {}) =>
      loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@db/app', ...extra }).database;
    expect(pg()).toMatchObject({ kind: 'postgres', statementTimeoutMs: 10_000 });
    expect(pg({ DATABASE_STATEMENT_TIMEOUT_MS: '0' })).toMatchObject({ statementTimeoutMs: 0 });
    expect(pg({ DATABASE_STATEMENT_TIMEOUT_MS: '250' })).toMatchObject({ statementTimeoutMs: 250 });
    expect(() => pg({ DATABASE_STATEMENT_TIMEOUT_MS: '50' })).toThrow(
      /DATABASE_STATEMENT_TIMEOUT_MS: must be 0 \(off\) or from 100 to 3600000 \(got "50"\)/,
    );
    for (const bad of ['-1', '3600001', 'soon'])
      expect(() => pg({ DATABASE_STATEMENT_TIMEOUT_MS: bad })).toThrow(/DATABASE_STATEMENT_TIMEOUT_MS: /);
  });

  it('waits for an answer 5 s past the statement timeout by default; a query timeout that would act first is refused', () => {
    const pg = (extra: Record<string, string> = {}) =>
      loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@db/app', ...extra }).database;
    expect(pg()).toMatchObject({ queryTimeoutMs: 15_000 });
    expect(pg({ DATABASE_STATEMENT_TIMEOUT_MS: '250' })).toMatchObject({ queryTimeoutMs: 5_250 });
    expect(pg({ DATABASE_STATEMENT_TIMEOUT_MS: '0' })).toMatchObject({ queryTimeoutMs: 15_000 });
    expect(pg({ DATABASE_QUERY_TIMEOUT_MS: '0' })).toMatchObject({ queryTimeoutMs: 0 });
    expect(() => pg({ DATABASE_QUERY_TIMEOUT_MS: '10000' })).toThrow(
      /DATABASE_QUERY_TIMEOUT_MS: must be longer than DATABASE_STATEMENT_TIMEOUT_MS \(10000\)/,
    );
    expect(() => pg({ DATABASE_QUERY_TIMEOUT_MS: '100', DATABASE_STATEMENT_TIMEOUT_MS: '0' })).toThrow(
      /DATABASE_QUERY_TIMEOUT_MS: must be 0 \(off\) or from 500/,
    );
  });

  it('accepts a complete production environment and binds 0.0.0.0', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: SECRET,
      MASTER_ENCRYPTION_KEY: HEX,
      DATABASE_URL: 'postgres://u@db:5432/app',
      REDIS_URL: 'redis://cache:6379',
      PUBLIC_BASE_URL: 'https://mcp.example.com',
    });
    expect(c.publicBaseUrl).toBe('https://mcp.example.com');
    expect(c.trustProxyHops).toBe(1);
    expect(c.host).toBe('0.0.0.0');
    expect(c.database).toMatchObject({ kind: 'postgres', ssl: true });
    expect(c.redisUrl).toBe('redis://cache:6379');
    expect(c.metricsPublic).toBe(false);
    expect(c.serverTiming).toBe(false);
    expect(c.apiDocs).toBe(false);
  });

  it('treats staging as deployed: secrets and stores required, 0.0.0.0, TLS, /metrics behind a key, no Server-Timing or /docs', () => {
    let err: unknown;
    try {
      loadConfig({ NODE_ENV: 'staging', DATA_DIR: tmp() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toHaveLength(REQUIRED_IN_PRODUCTION.length);
    for (const name of REQUIRED_IN_PRODUCTION)
      expect((err as Error).message).toContain(`${name}: required in staging`);
    const c = loadConfig({
      NODE_ENV: 'staging',
      JWT_SECRET: SECRET,
      MASTER_ENCRYPTION_KEY: HEX,
      DATABASE_URL: 'postgres://u@db:5432/app',
      REDIS_URL: 'redis://cache:6379',
      PUBLIC_BASE_URL: 'https://mcp.staging.example.com',
    });
    expect(c).toMatchObject({
      env: 'staging',
      host: '0.0.0.0',
      trustProxyHops: 1,
      metricsPublic: false,
      serverTiming: false,
      apiDocs: false,
      database: { ssl: true },
      generatedSecretsFile: undefined,
    });
  });

  it('opens /metrics, Server-Timing and /docs and uses no database TLS by default in development and test', () => {
    for (const NODE_ENV of ['development', 'test']) {
      const c = loadConfig({ NODE_ENV, DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@db/app' });
      expect(c).toMatchObject({
        metricsPublic: true,
        serverTiming: true,
        apiDocs: true,
        database: { ssl: false },
      });
    }
    expect(loadConfig({ DATA_DIR: tmp(), METRICS_PUBLIC: 'false' }).metricsPublic).toBe(false);
    expect(
      loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@db/app', DATABASE_SSL: 'true' }).database,
    ).toMatchObject({ ssl: true });
  });

  it('takes both ends of a range and refuses one past either', () => {
    const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: tmp(), ...env });
    expect(load({ PORT: '65535' }).port).toBe(65535);
    expect(load({ PORT: '0' }).port).toBe(0);
    expect(() => load({ PORT: '65536' })).toThrow(/PORT: must be an integer from 0 to 65535 \(got "65536"\)/);
    expect(load({ TRUST_PROXY_HOPS: '10' }).trustProxyHops).toBe(10);
    expect(load({ MCP_SESSION_TTL: '60' }).mcp.sessionTtlSeconds).toBe(60);
    expect(() => load({ MCP_SESSION_TTL: '59' })).toThrow(/MCP_SESSION_TTL: /);
    const pg = { DATABASE_URL: 'postgres://u@db/app' };
    const noStatementTimeout = { ...pg, DATABASE_STATEMENT_TIMEOUT_MS: '0' };
    expect(load({ ...noStatementTimeout, DATABASE_QUERY_TIMEOUT_MS: '500' }).database).toMatchObject({
      queryTimeoutMs: 500,
    });
    expect(() => load({ ...noStatementTimeout, DATABASE_QUERY_TIMEOUT_MS: '499' })).toThrow(
      /DATABASE_QUERY_TIMEOUT_MS: /,
    );
    expect(load({ ...pg, DATABASE_STATEMENT_TIMEOUT_MS: '100' }).database).toMatchObject({
      statementTimeoutMs: 100,
    });
    expect(() => load({ ...pg, DATABASE_STATEMENT_TIMEOUT_MS: '99' })).toThrow(
      /DATABASE_STATEMENT_TIMEOUT_MS: /,
    );
    // A request may be given exactly as long as its headers.
    expect(
      load({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '20000' }).requestTimeoutMs,
    ).toBe(20_000);
    // A JWT secret of exactly 32 characters is enough, 31 is not, alone or in a list.
    expect(load({ JWT_SECRET: 'j'.repeat(32) }).jwtSigningKeys[0].secret.length).toBe(32);
    expect(() => load({ JWT_SECRET: 'j'.repeat(31) })).toThrow(/JWT_SECRET: must be at least 32 characters/);
    expect(() => load({ JWT_SECRETS: `k:${'j'.repeat(31)}` })).toThrow(/JWT_SECRETS: entry 1 /);
    // A master key is exactly 64 hex characters: more, or hex inside other text, is refused.
    for (const key of ['a'.repeat(66), `zz${HEX}`]) {
      expect(() => load({ MASTER_ENCRYPTION_KEY: key })).toThrow(/MASTER_ENCRYPTION_KEY: must be 64 hex/);
      expect(() => load({ MASTER_ENCRYPTION_KEYS: `a:${key}` })).toThrow(/MASTER_ENCRYPTION_KEYS: entry 1 /);
    }
  });

  it('reads a blank variable as unset: its default, not a problem', () => {
    const c = loadConfig({ DATA_DIR: tmp(), HOST: ' ', METRICS_PUBLIC: '', PORT: '  ', LOG_LEVEL: '' });
    expect(c).toMatchObject({ host: '127.0.0.1', port: 3000, metricsPublic: true, log: { level: 'info' } });
  });

  it('refuses an unknown LOG_LEVEL, AUDIT_MODE, or a DATABASE_SCHEMA that is not a plain SQL identifier', () => {
    expect(() => loadConfig({ DATA_DIR: tmp(), LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL: must be one of/);
    expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_MODE: 'later' })).toThrow(
      /AUDIT_MODE: must be sync or async/,
    );
    const schema = (s: string) =>
      loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@db/app', DATABASE_SCHEMA: s });
    expect(schema('tenant_1').database).toMatchObject({ schema: 'tenant_1' });
    for (const bad of ['public"; DROP SCHEMA x; --', 'Upper', '1st'])
      expect(() => schema(bad)).toThrow(/DATABASE_SCHEMA: must be a lower-case SQL identifier/);
  });

  it('refuses an ALLOWED_ORIGINS entry whose scheme a browser would not send from a web page', () => {
    expect(() => loadConfig({ DATA_DIR: tmp(), ALLOWED_ORIGINS: 'ftp://files.example.com' })).toThrow(
      /ALLOWED_ORIGINS: each must be an origin/,
    );
  });

  it('generates only the development secret that is missing and keeps the one given', () => {
    const given = 'g'.repeat(40);
    const jwtOnly = loadConfig({ DATA_DIR: tmp(), JWT_SECRET: given });
    expect(jwtOnly.jwtSigningKeys).toEqual([{ kid: 'k1', secret: Buffer.from(given, 'utf8') }]);
    expect(jwtOnly.masterKeys[0].key).toHaveLength(32);
    expect(jwtOnly.generatedSecretsFile).toBeDefined();
    const mkOnly = loadConfig({ DATA_DIR: tmp(), MASTER_ENCRYPTION_KEY: HEX });
    expect(mkOnly.masterKeys).toEqual([{ id: 'mk1', key: Buffer.from(HEX, 'hex') }]);
    expect(mkOnly.jwtSigningKeys[0].secret.length).toBeGreaterThanOrEqual(32);
  });

  it('makes DATA_DIR private (0700) when it creates it for the secrets, and creates nothing with generateSecrets: false', () => {
    const dir = join(tmp(), 'new-data');
    loadConfig({ DATA_DIR: dir });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const none = join(tmp(), 'untouched');
    const c = loadConfig({ DATA_DIR: none }, { generateSecrets: false });
    expect(existsSync(none)).toBe(false);
    expect(c.jwtSigningKeys).toEqual([]);
    expect(c.masterKeys).toEqual([]);
    expect(c.generatedSecretsFile).toBeUndefined();
  });

  it('refuses a secrets file whose JWT secret is short or whose master key is not 64 hex characters', () => {
    const good = { jwtSecret: SECRET, masterEncryptionKey: HEX };
    for (const bad of [
      { ...good, jwtSecret: 'j'.repeat(31) },
      { ...good, masterEncryptionKey: 'z'.repeat(64) },
      { ...good, masterEncryptionKey: 'a'.repeat(62) },
    ]) {
      const dir = tmp();
      writeFileSync(join(dir, 'secrets.json'), JSON.stringify(bad));
      expect(() => loadConfig({ DATA_DIR: dir })).toThrow(
        /secrets\.json must hold "jwtSecret" \(32\+ characters\)/,
      );
    }
    const dir = tmp();
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify(good));
    expect(loadConfig({ DATA_DIR: dir }).jwtSigningKeys[0].secret.toString('utf8')).toBe(SECRET);
  });

  it('defaults the settings that are the same everywhere: no arguments stored, no log files, migrations run; warn in test', () => {
    const c = loadConfig({ DATA_DIR: tmp() });
    expect(c).toMatchObject({
      runMigrations: true,
      log: { level: 'info', files: false },
      audit: { storeArgs: false },
    });
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: tmp() }).log.level).toBe('warn');
    // NODE_ENV in any case.
    expect(loadConfig({ NODE_ENV: 'Test', DATA_DIR: tmp() }).env).toBe('test');
    // Every spelling of a boolean.
    for (const [raw, value] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['ON', true],
      ['false', false],
      ['0', false],
      ['no', false],
      ['Off', false],
    ] as const)
      expect(loadConfig({ DATA_DIR: tmp(), AUDIT_STORE_ARGS: raw }).audit.storeArgs).toBe(value);
  });

  it('reads an unknown NODE_ENV as production: it names what production needs and generates no secrets', () => {
    const dir = tmp();
    let err: unknown;
    try {
      loadConfig({ NODE_ENV: 'prodution', DATA_DIR: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('NODE_ENV: must be one of');
    expect((err as Error).message).toContain('JWT_SECRET: required in production');
    expect(existsSync(join(dir, 'secrets.json'))).toBe(false);
  });

  it('takes a key id of letters, digits and . _ - only, and a secret holding colons whole', () => {
    const c = loadConfig({ DATA_DIR: tmp(), JWT_SECRETS: `k1:${'a:b'.repeat(12)}` });
    expect(c.jwtSigningKeys).toEqual([{ kid: 'k1', secret: Buffer.from('a:b'.repeat(12), 'utf8') }]);
    for (const id of ['bad id', 'k/1', 'x'.repeat(65)])
      expect(() => loadConfig({ DATA_DIR: tmp(), JWT_SECRETS: `${id}:${SECRET}` })).toThrow(
        /JWT_SECRETS: entry 1 /,
      );
  });

  it('refuses a rate limit of 0, a request body limit over 64 MiB and a Redis key prefix over 64 characters', () => {
    for (const name of ['RATE_LIMIT_MAX', 'RATE_LIMIT_IP_MAX'])
      expect(() => loadConfig({ DATA_DIR: tmp(), [name]: '0' })).toThrow(new RegExp(`${name}: `));
    expect(() => loadConfig({ DATA_DIR: tmp(), MCP_MAX_BODY_BYTES: String(64 * 1024 * 1024 + 1) })).toThrow(
      /MCP_MAX_BODY_BYTES: /,
    );
    expect(loadConfig({ DATA_DIR: tmp(), REDIS_KEY_PREFIX: 'p'.repeat(64) }).redisKeyPrefix).toHaveLength(64);
    expect(() => loadConfig({ DATA_DIR: tmp(), REDIS_KEY_PREFIX: 'p'.repeat(65) })).toThrow(
      /REDIS_KEY_PREFIX: /,
    );
  });

  it('refuses TLS parameters in DATABASE_URL, which would override DATABASE_SSL, naming them and not the password', () => {
    const prod = (url: string) =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: SECRET,
        MASTER_ENCRYPTION_KEY: HEX,
        DATABASE_URL: url,
        REDIS_URL: 'redis://cache:6379',
        PUBLIC_BASE_URL: 'https://mcp.example.com',
      });
    expect(() => prod('postgres://u:hunter2@db:5432/app?sslmode=disable')).toThrow(
      /DATABASE_URL: must not set TLS itself \(sslmode\): DATABASE_SSL does/,
    );
    expect(() => prod('postgres://u@db/app?ssl=0&sslrootcert=/ca.pem&sslmode=no-verify')).toThrow(
      /DATABASE_URL: must not set TLS itself \(ssl, sslrootcert, sslmode\)/,
    );
    expect(() =>
      loadConfig({
        DATA_DIR: tmp(),
        DATABASE_URL_DEVELOPMENT: 'postgres://u@db/app?uselibpqcompat=true&sslmode=require',
      }),
    ).toThrow(/DATABASE_URL_DEVELOPMENT: must not set TLS itself \(uselibpqcompat, sslmode\)/);
    try {
      prod('postgres://u:hunter2@db:5432/app?sslmode=disable');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
    // Other parameters are the URL's own.
    expect(prod('postgres://u@db:5432/app?application_name=x').database).toMatchObject({ ssl: true });
  });

  it('refuses a PUBLIC_BASE_URL with a user, password, query or fragment (paths are appended to it), without echoing it', () => {
    const base = (url: string) => loadConfig({ DATA_DIR: tmp(), PUBLIC_BASE_URL: url });
    expect(base('https://mcp.example.com/').publicBaseUrl).toBe('https://mcp.example.com');
    for (const url of [
      'https://mcp.example.com?x=1',
      'https://mcp.example.com/#top',
      'https://u:hunter2@mcp.example.com',
    ]) {
      let err: unknown;
      try {
        base(url);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        'PUBLIC_BASE_URL: must not carry a user, password, query or fragment',
      ]);
    }
  });

  it('defaults PUBLIC_BASE_URL to http://HOST:PORT, localhost for any address, brackets for IPv6', () => {
    const base = (host: string) => loadConfig({ DATA_DIR: tmp(), HOST: host, PORT: '3000' }).publicBaseUrl;
    expect(base('127.0.0.1')).toBe('http://127.0.0.1:3000');
    expect(base('0.0.0.0')).toBe('http://localhost:3000');
    expect(base('::')).toBe('http://localhost:3000');
    expect(base('::1')).toBe('http://[::1]:3000');
    expect(() => base('my host')).toThrow(/HOST: must be a host name or IP address/);
  });

  it('takes host names in ALLOWED_HOSTS and origins in ALLOWED_ORIGINS, and names an entry of the other kind', () => {
    const c = loadConfig({
      DATA_DIR: tmp(),
      ALLOWED_HOSTS: 'mcp.example.com, localhost:3000,[::1],10.0.0.5',
      ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173/',
    });
    expect(c.mcp.allowedHosts).toEqual(['mcp.example.com', 'localhost:3000', '[::1]', '10.0.0.5']);
    expect(c.mcp.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173/']);
    let err: unknown;
    try {
      loadConfig({
        DATA_DIR: tmp(),
        ALLOWED_HOSTS: 'https://mcp.example.com,mcp.example.com/mcp,::1',
        ALLOWED_ORIGINS: 'app.example.com,https://app.example.com/page',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'ALLOWED_ORIGINS: each must be an origin such as https://app.example.com, no path (got "app.example.com")',
      'ALLOWED_ORIGINS: each must be an origin such as https://app.example.com, no path (got "https://app.example.com/page")',
      'ALLOWED_HOSTS: each must be a host name such as mcp.example.com, no scheme or path, an IPv6 address in brackets ([::1]) (got "https://mcp.example.com")',
      'ALLOWED_HOSTS: each must be a host name such as mcp.example.com, no scheme or path, an IPv6 address in brackets ([::1]) (got "mcp.example.com/mcp")',
      'ALLOWED_HOSTS: each must be a host name such as mcp.example.com, no scheme or path, an IPv6 address in brackets ([::1]) (got "::1")',
    ]);
  });

  it('takes URLs in AUTHORIZATION_SERVERS and names an entry that is not one', () => {
    expect(
      loadConfig({
        DATA_DIR: tmp(),
        AUTHORIZATION_SERVERS: 'https://auth.example.com, https://id.example.com/realm',
      }).authorizationServers,
    ).toEqual(['https://auth.example.com', 'https://id.example.com/realm']);
    expect(() =>
      loadConfig({ DATA_DIR: tmp(), AUTHORIZATION_SERVERS: 'https://ok.example.com,auth.example.com' }),
    ).toThrow('AUTHORIZATION_SERVERS: each must be an http or https URL (got "auth.example.com")');
  });

  it('gives a client 15 s for its headers and 60 s for its whole request, and checks the pair', () => {
    expect(loadConfig({ DATA_DIR: tmp() })).toMatchObject({
      headersTimeoutMs: 15_000,
      requestTimeoutMs: 60_000,
    });
    expect(
      loadConfig({ DATA_DIR: tmp(), HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '20000' }),
    ).toMatchObject({ headersTimeoutMs: 5_000, requestTimeoutMs: 20_000 });
    expect(() =>
      loadConfig({ DATA_DIR: tmp(), HTTP_HEADERS_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '20000' }),
    ).toThrow(/HTTP_REQUEST_TIMEOUT_MS: must not be shorter than HTTP_HEADERS_TIMEOUT_MS/);
    expect(() => loadConfig({ DATA_DIR: tmp(), HTTP_HEADERS_TIMEOUT_MS: '10' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: /,
    );
  });

  it('cuts off a stalled audit export after 60 s by default, AUDIT_EXPORT_STALL_MS (1 s to 1 h)', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).audit.exportStallMs).toBe(60_000);
    expect(loadConfig({ DATA_DIR: tmp(), AUDIT_EXPORT_STALL_MS: '5000' }).audit.exportStallMs).toBe(5_000);
    expect(() => loadConfig({ DATA_DIR: tmp(), AUDIT_EXPORT_STALL_MS: '10' })).toThrow(
      /AUDIT_EXPORT_STALL_MS: /,
    );
  });

  it('names DATA_DIR, LOG_DIR or the secrets file when they cannot be used, instead of failing later', () => {
    const problemsOf = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
      } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
      }
      return [];
    };
    const dir = tmp();
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, '');
    expect(problemsOf({ DATA_DIR: aFile })).toEqual([`DATA_DIR: ${aFile} exists and is not a directory`]);
    expect(problemsOf({ DATA_DIR: dir, LOG_FILES: 'true', LOG_DIR: aFile })).toEqual([
      `LOG_DIR: ${aFile} exists and is not a directory`,
    ]);
    expect(problemsOf({ DATA_DIR: dir, LOG_FILES: 'false', LOG_DIR: aFile })).toEqual([]); // not used

    const broken = tmp();
    writeFileSync(join(broken, 'secrets.json'), '{bad');
    const [notJson] = problemsOf({ DATA_DIR: broken });
    expect(notJson).toContain(`DATA_DIR: ${join(broken, 'secrets.json')} cannot be read as JSON`);
    writeFileSync(join(broken, 'secrets.json'), '{}');
    expect(problemsOf({ DATA_DIR: broken })).toEqual([
      `DATA_DIR: ${join(broken, 'secrets.json')} must hold "jwtSecret" (32+ characters) and "masterEncryptionKey" ` +
        '(64 hex characters); set JWT_SECRET and MASTER_ENCRYPTION_KEY, or move the file away to generate new ones',
    ]);
    // Secrets given in the environment: the file is not needed, so not read.
    expect(problemsOf({ DATA_DIR: broken, JWT_SECRET: SECRET, MASTER_ENCRYPTION_KEY: HEX })).toEqual([]);
  });

  it('names set variables that look like settings but are read by nothing (a misspelling)', () => {
    const c = loadConfig({
      DATA_DIR: tmp(),
      MCP_SESSION_TTL_SECONDS: '60',
      AUDIT_MOD: 'async',
      DATABASE_SSL: 'false', // a PostgreSQL setting, known though this is the SQLite shape
      DATABASE_URL_STAGING: 'postgres://u@db/app', // another environment's
      HOME: '/root', // not a setting at all
      HTTP_PROXY: 'http://proxy:3128', // another program's, despite the HTTP_ prefix
    });
    expect(c.unknownSettings).toEqual(['AUDIT_MOD', 'MCP_SESSION_TTL_SECONDS']);
    expect(loadConfig({ DATA_DIR: tmp(), MCP_SESSION_TTL: '60' }).unknownSettings).toEqual([]);
  });

  it('also names a misspelling outside the prefix (a letter missing, extra, wrong or swapped)', () => {
    const c = loadConfig({
      DATA_DIR: tmp(),
      RATE_LIMT_MAX: '5',
      UPSTREM_TIMEOUT_MS: '100',
      NODE_NEV: 'test',
      METRIC_PUBLIC: 'false',
      DATA_DIRS: '/x',
      // Not settings: no near one (short names such as HOST and PORT are not guessed at).
      HOME: '/root',
      HOSTNAME: 'box',
      PWD: '/',
      SHLVL: '1',
      LANG: 'C',
      CODE_ENVS: 'x', // two slips from NODE_ENV: a name under 12 characters is allowed one
    });
    expect(c.unknownSettings).toEqual([
      'DATA_DIRS',
      'METRIC_PUBLIC',
      'NODE_NEV',
      'RATE_LIMT_MAX',
      'UPSTREM_TIMEOUT_MS',
    ]);
  });

  it('believes no proxy outside staging and production, and reads TRUST_PROXY_HOPS (0-10)', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).trustProxyHops).toBe(0);
    expect(loadConfig({ DATA_DIR: tmp(), TRUST_PROXY_HOPS: '2' }).trustProxyHops).toBe(2);
    for (const bad of ['-1', '11', 'yes'])
      expect(() => loadConfig({ DATA_DIR: tmp(), TRUST_PROXY_HOPS: bad })).toThrow(/TRUST_PROXY_HOPS: /);
  });

  it('serves /docs by default outside staging and production, and reads API_DOCS', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).apiDocs).toBe(true);
    expect(loadConfig({ DATA_DIR: tmp(), API_DOCS: 'false' }).apiDocs).toBe(false);
    expect(() => loadConfig({ DATA_DIR: tmp(), API_DOCS: 'maybe' })).toThrow(
      /API_DOCS: must be true or false/,
    );
  });

  it('reports Server-Timing by default outside staging and production, and reads SERVER_TIMING', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).serverTiming).toBe(true);
    expect(loadConfig({ DATA_DIR: tmp(), SERVER_TIMING: 'off' }).serverTiming).toBe(false);
    expect(() => loadConfig({ DATA_DIR: tmp(), SERVER_TIMING: 'sometimes' })).toThrow(
      /SERVER_TIMING: must be true or false \(got "sometimes"\)/,
    );
  });

  it('prefers DATABASE_URL over DATABASE_URL_<ENV>, and falls back to the seed names', () => {
    const base = { DATA_DIR: tmp(), JWT_SECRET: SECRET, MASTER_ENCRYPTION_KEY: HEX };
    const seed = loadConfig({
      ...base,
      DATABASE_URL_DEVELOPMENT: 'postgres://a/dev',
      REDIS_URL_DEVELOPMENT: 'redis://r1',
    });
    expect(seed.database).toMatchObject({ kind: 'postgres', url: 'postgres://a/dev' });
    expect(seed.redisUrl).toBe('redis://r1');
    const both = loadConfig({
      ...base,
      DATABASE_URL: 'postgres://main/db',
      DATABASE_URL_DEVELOPMENT: 'postgres://a/dev',
    });
    expect(both.database).toMatchObject({ url: 'postgres://main/db' });
    const testEnv = loadConfig({ ...base, NODE_ENV: 'test', DATABASE_URL_TESTING: 'postgres://t/test' });
    expect(testEnv.database).toMatchObject({ url: 'postgres://t/test' });
  });

  it('parses key lists for rotation: the first signs or wraps, all verify or unwrap', () => {
    const c = loadConfig({
      DATA_DIR: tmp(),
      JWT_SECRETS: `new:${SECRET},old:${'y'.repeat(32)}`,
      MASTER_ENCRYPTION_KEYS: `b:${'b'.repeat(64)},a:${HEX}`,
    });
    expect(c.jwtSigningKeys.map((k) => k.kid)).toEqual(['new', 'old']);
    expect(c.masterKeys.map((k) => k.id)).toEqual(['b', 'a']);
    expect(() => loadConfig({ DATA_DIR: tmp(), MASTER_ENCRYPTION_KEYS: 'a:abc' })).toThrow(
      /MASTER_ENCRYPTION_KEYS: entry 1 must be "id:<64 hex characters>"/,
    );
    expect(() => loadConfig({ DATA_DIR: tmp(), JWT_SECRETS: `k:${SECRET},short:abc` })).toThrow(
      /JWT_SECRETS: entry 2 must be "kid:secret" with a secret of at least 32 characters/,
    );
  });

  it('refuses a key list that names no key, in production and in development, instead of starting without keys', () => {
    const prod = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u@db/app',
      REDIS_URL: 'redis://cache',
      PUBLIC_BASE_URL: 'https://mcp.example.com',
    };
    for (const env of [prod, { DATA_DIR: tmp() }]) {
      let err: unknown;
      try {
        loadConfig({ ...env, JWT_SECRETS: ' , ', MASTER_ENCRYPTION_KEYS: ',' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        'JWT_SECRETS: names no key; give at least one "kid:secret" with a secret of at least 32 characters',
        'MASTER_ENCRYPTION_KEYS: names no key; give at least one "id:<64 hex characters>"',
      ]);
    }
  });

  it('refuses a key id given twice in a key list: which key a token or credential names would be a guess', () => {
    const twice = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'loaded';
    };
    const jwt = twice(() => loadConfig({ DATA_DIR: tmp(), JWT_SECRETS: `k:${SECRET},k:${'y'.repeat(32)}` }));
    expect(jwt).toMatch(/JWT_SECRETS: key id "k" appears twice/);
    expect(jwt).not.toContain('y'.repeat(32));
    expect(
      twice(() => loadConfig({ DATA_DIR: tmp(), MASTER_ENCRYPTION_KEYS: `a:${HEX},a:${'b'.repeat(64)}` })),
    ).toMatch(/MASTER_ENCRYPTION_KEYS: key id "a" appears twice/);
  });

  it('refuses the conformance fixtures in production and rejects unknown environments', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: SECRET,
        MASTER_ENCRYPTION_KEY: HEX,
        DATABASE_URL: 'postgres://u@db/app',
        REDIS_URL: 'redis://cache',
        MCP_CONFORMANCE_FIXTURES: 'true',
      }),
    ).toThrow(/MCP_CONFORMANCE_FIXTURES: test fixtures are refused in production/);
    expect(() => loadConfig({ NODE_ENV: 'prod', DATA_DIR: tmp() })).toThrow(/NODE_ENV: must be one of/);
  });
  it('takes the real upstream APIs by default and a simulator only on a loopback http URL', () => {
    const c = loadConfig({ DATA_DIR: tmp() });
    expect(c.connectors.baseUrls).toEqual({
      xeroApi: 'https://api.xero.com',
      xeroIdentity: 'https://identity.xero.com',
      shopify: undefined,
      unleashed: 'https://api.unleashedsoftware.com',
      anthropic: 'https://api.anthropic.com',
      openai: 'https://api.openai.com/v1',
    });
    const local = loadConfig({
      DATA_DIR: tmp(),
      UNLEASHED_BASE_URL: 'http://127.0.0.1:4010/',
      SHOPIFY_BASE_URL: 'http://localhost:4011',
      OPENAI_BASE_URL: 'https://proxy.example.com/openai/v1/',
    });
    expect(local.connectors.baseUrls.unleashed).toBe('http://127.0.0.1:4010');
    expect(local.connectors.baseUrls.shopify).toBe('http://localhost:4011');
    expect(local.connectors.baseUrls.openai).toBe('https://proxy.example.com/openai/v1');
  });

  it('refuses an upstream URL that would send credentials in the clear or carries a password, without echoing it', () => {
    let err: unknown;
    try {
      loadConfig({
        DATA_DIR: tmp(),
        UNLEASHED_BASE_URL: 'http://unleashed.example.com',
        ANTHROPIC_BASE_URL: 'https://user:hunter2@api.example.com',
        XERO_API_BASE_URL: 'not a url',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'XERO_API_BASE_URL: must be an https URL (http only for 127.0.0.1, localhost or [::1])',
      'UNLEASHED_BASE_URL: must be an https URL (http only for 127.0.0.1, localhost or [::1])',
      'ANTHROPIC_BASE_URL: must not carry a user, password, query or fragment',
    ]);
    expect((err as Error).message).not.toContain('hunter2');
  });
});
