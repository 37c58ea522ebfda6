export const ENVIRONMENTS = ['development', 'test', 'staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      url: string;
      ssl: boolean;
      poolSize: number;
      schema?: string;
      /**
       * The connections' `statement_timeout` (ms; 0 leaves the server's own):
       * a statement still running after it is cancelled by PostgreSQL
       * (DATABASE_STATEMENT_TIMEOUT_MS). Migrations run without it.
       */
      statementTimeoutMs: number;
      /**
       * How long the client waits for any query's answer (ms; 0: for ever)
       * before it gives up and drops the connection
       * (DATABASE_QUERY_TIMEOUT_MS): what bounds a call when the database's
       * packets are lost rather than refused. Migrations run without it.
       */
      queryTimeoutMs: number;
    };

export interface SigningKey {
  /** Key id carried in the JWT header `kid`. */
  kid: string;
  secret: Buffer;
}

export interface MasterKey {
  /** Key id stored beside every record it wraps. */
  id: string;
  key: Buffer;
}

/**
 * The whole configuration, parsed once at boot (see `loadConfig`). Nothing
 * else in the code base reads `process.env`.
 */
export interface AppConfig {
  env: Environment;
  appName: string;
  appVersion: string;
  host: string;
  port: number;
  /** Base URL clients use to reach this server; the OAuth resource identifier. */
  publicBaseUrl: string;
  dataDir: string;
  database: DatabaseConfig;
  runMigrations: boolean;
  /** Undefined: the embedded shape (in-memory store). */
  redisUrl?: string;
  /** Put before every Redis key and pub/sub channel, so deployments can share a Redis server. */
  redisKeyPrefix: string;
  /** The first key signs; every key verifies. */
  jwtSigningKeys: SigningKey[];
  jwtIssuer: string;
  /** The first key wraps new data keys; every key unwraps. */
  masterKeys: MasterKey[];
  /** Where generated development secrets came from, for the boot log. */
  generatedSecretsFile?: string;
  /** Set variables that look like settings but are not read (a misspelling); the boot warns about them. */
  unknownSettings?: string[];
  log: { level: string; files: boolean; dir: string; elasticsearchUrl?: string };
  rateLimit: { perKeyPerMinute: number; perIpPerMinute: number };
  cacheTtlSeconds: number;
  metricsPublic: boolean;
  /** Serve the OpenAPI document and Swagger UI at /docs, without a key (API_DOCS; default: outside staging and production). */
  apiDocs: boolean;
  /** Tool-call responses carry a `Server-Timing` header (`tool`, `audit`; SERVER_TIMING). */
  serverTiming: boolean;
  authorizationServers: string[];
  mcp: {
    allowedOrigins: string[];
    allowedHosts: string[];
    maxBodyBytes: number;
    sessionTtlSeconds: number;
    /** Live 2025-era sessions one key may hold on one instance; past it the least recently used closes here. */
    maxSessionsPerKey: number;
    /**
     * Open event streams (2025-era GET, 2026-07-28 subscriptions/listen) the keys of one organisation
     * may hold on one instance (MCP_MAX_STREAMS_PER_ORG): no organisation can take every stream slot.
     */
    maxStreamsPerOrg: number;
    conformanceFixtures: boolean;
    /**
     * Seconds a read-only connector tool's answer is reused for the same
     * organisation, arguments and stored credentials (MCP_TOOL_CACHE_TTL);
     * 0 turns the cache, and the tools' `fresh` argument, off.
     */
    toolCacheTtlSeconds: number;
    /** An answer whose JSON is larger than this is not cached (MCP_TOOL_CACHE_MAX_ENTRY_BYTES). */
    toolCacheMaxEntryBytes: number;
  };
  audit: {
    /** sync: a call is answered once its audit record is durable; async: answered at once. */
    mode: 'sync' | 'async';
    /** database: durable once in the database (default); journal: once fsync'd to DATA_DIR/audit-journal. */
    durability: 'database' | 'journal';
    /** Database durability: after this many ms a slow batch is also journaled and answered from there; 0: never. */
    hedgeAfterMs: number;
    /** An audit INSERT slower than this counts as refused (the batch is spooled); AUDIT_WRITE_TIMEOUT_MS. */
    writeTimeoutMs: number;
    /** An export whose client has not read for this long is cut off (AUDIT_EXPORT_STALL_MS). */
    exportStallMs: number;
    /** Store redacted arguments as well as their digest. */
    storeArgs: boolean;
    batchWindowMs: number;
    batchMaxRows: number;
    /** Batches written at once (AUDIT_BATCHES_IN_FLIGHT, default 2). */
    batchesInFlight: number;
    /**
     * Months of audit records kept before the current month (AUDIT_RETENTION_MONTHS): older ones
     * are pruned by the server (AuditRetention), as `sentia-mcp audit prune` does; 0 keeps all.
     */
    retentionMonths: number;
  };
  shutdownGraceMs: number;
  /** How long the HTTP server keeps an idle keep-alive connection open (HTTP_KEEP_ALIVE_TIMEOUT_MS). */
  keepAliveTimeoutMs: number;
  /**
   * How many proxies in front of the server to believe about the client's
   * address (`X-Forwarded-For`, TRUST_PROXY_HOPS): the per-IP limit and the
   * audit trail's `ip` use it. 0: the socket's own address.
   */
  trustProxyHops: number;
  /** How long a client may take to send a request's headers (HTTP_HEADERS_TIMEOUT_MS); then 408. */
  headersTimeoutMs: number;
  /** How long a client may take to send a whole request, body included (HTTP_REQUEST_TIMEOUT_MS); then 408. */
  requestTimeoutMs: number;
  connectors: ConnectorsConfig;
}

/** How the connectors reach their upstream services (`src/connectors/http`). */
export interface ConnectorsConfig {
  /** One attempt's time limit, response body included (UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number;
  /** Retries after a first failed attempt (UPSTREAM_MAX_RETRIES). */
  maxRetries: number;
  /** The longest an upstream's Retry-After is waited for before a retry; longer ones are told to the caller (UPSTREAM_MAX_RETRY_WAIT_MS). */
  maxRetryWaitMs: number;
  /** A response body larger than this is refused (UPSTREAM_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Consecutive failures (no answer, or 5xx) of one service that open its circuit (UPSTREAM_BREAKER_FAILURES). */
  breakerFailures: number;
  /** How long an open circuit refuses calls before one trial call is let through (UPSTREAM_BREAKER_OPEN_MS). */
  breakerOpenMs: number;
  /**
   * Requests sent to Unleashed per account (API id) per calendar month, UTC
   * (UNLEASHED_MONTHLY_QUOTA): the account's plan quota, which Unleashed does
   * not publish per plan. 0, the default, counts nothing.
   */
  unleashedMonthlyQuota: number;
  /**
   * Where each service is reached, without a trailing slash. The defaults are
   * the real APIs; tests point them at local simulators. `shopify`, when set,
   * replaces `https://{shop}` for every shop.
   */
  baseUrls: {
    xeroApi: string;
    xeroIdentity: string;
    shopify?: string;
    unleashed: string;
    anthropic: string;
    openai: string;
  };
}
