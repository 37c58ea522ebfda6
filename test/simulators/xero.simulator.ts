/**
 * A local Xero (identity + Accounting API) on 127.0.0.1 for e2e tests, built
 * from the facts in UPSTREAMS.md: the token endpoint (client auth by Basic or
 * in the body; client_credentials and rotating refresh tokens with a grace
 * period, then invalid_grant), /connections, the Accounting endpoints with
 * their envelope, paging, Microsoft dates, `Accept: application/json`
 * (XML otherwise), the xero-tenant-id check, 401 for an expired token,
 * per-tenant limits with their headers and 429s. Tests can make it fail the
 * next requests, and read what it was sent and how many refreshes it did.
 *
 *   const sim = await XeroSimulator.start();
 *   sim.addTenant(makeTenant(TENANT, 'Demo Company'));
 *   const refreshToken = sim.addOAuthApp('client-1', 'secret-1', [TENANT]);
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  contactsAnswer,
  invoicesAnswer,
  notFound,
  profitAndLossAnswer,
  SimAnswer,
  SimTenant,
} from './xero-simulator-data';

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SimFailure {
  status: number;
  /** Retry-After in seconds. */
  retryAfter?: number;
  /** X-Rate-Limit-Problem on a 429. */
  problem?: 'minute' | 'day';
  /** The body: JSON unless a string (default: Xero-like for the status). */
  body?: unknown;
  /** Content-Type of a string body (default text/html, as Xero's 404s). */
  contentType?: string;
  /** Which requests it applies to (default the Accounting API). */
  on?: 'api' | 'token' | 'connections';
}

interface SimClient {
  secret: string;
  kind: 'custom' | 'oauth';
  tenantIds: string[];
}

interface RefreshRecord {
  clientId: string;
  /** When a refresh replaced it; usable until then + the grace period. */
  replacedAt?: number;
}

export class XeroSimulator {
  readonly requests: SimRequest[] = [];
  /** Successful refresh_token grants. */
  refreshCount = 0;
  /** Successful client_credentials grants. */
  clientCredentialsCount = 0;
  /** The refresh token presented by every refresh_token grant, in order (accepted or not). */
  readonly refreshTokensPresented: string[] = [];
  /** Every access and refresh token it issued (tests register them as secrets). */
  readonly issued: string[] = [];
  /** Most token requests it was answering at the same time. */
  maxConcurrentTokenRequests = 0;
  /** expires_in of new access tokens, in seconds. */
  accessTokenTtlSeconds = 1800;
  /** How long a replaced refresh token stays usable (Xero: 30 minutes). */
  refreshGraceMs = 30 * 60_000;
  /** Delay before answering a token request (to make concurrent refreshes overlap). */
  tokenDelayMs = 0;
  /** Per-tenant limits. */
  minuteLimit = 60;
  dayLimit = 5000;

  private readonly clients = new Map<string, SimClient>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly accessTokens = new Map<string, { clientId: string; expiresAt: number }>();
  private readonly tenants = new Map<string, SimTenant>();
  private readonly minute = new Map<string, { window: number; count: number }>();
  private readonly day = new Map<string, { window: number; count: number }>();
  private failures: SimFailure[] = [];
  private tokenInFlight = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<XeroSimulator> {
    const holder: { self?: XeroSimulator } = {};
    const server = createServer((req, res) => {
      holder.self!.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const self = new XeroSimulator(server, `http://127.0.0.1:${port}`);
    holder.self = self;
    server.on('connection', (s) => {
      self.sockets.add(s);
      s.on('close', () => self.sockets.delete(s));
    });
    return self;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addTenant(tenant: SimTenant): void {
    this.tenants.set(tenant.tenantId, tenant);
  }

  /** A custom connection: client_credentials only, connected to `tenantIds`. */
  addCustomConnection(clientId: string, secret: string, tenantIds: string[]): void {
    this.clients.set(clientId, { secret, kind: 'custom', tenantIds });
  }

  /** An OAuth app that completed the consent flow for `tenantIds`; returns its first refresh token. */
  addOAuthApp(clientId: string, secret: string, tenantIds: string[]): string {
    this.clients.set(clientId, { secret, kind: 'oauth', tenantIds });
    return this.consent(clientId);
  }

  /** The consent flow again: a new refresh token for the app. */
  consent(clientId: string): string {
    const token = this.token('sim-rt');
    this.refreshTokens.set(token, { clientId });
    return token;
  }

  /** The refresh token the app should hold now (the newest, never replaced). */
  currentRefreshToken(clientId: string): string | undefined {
    let newest: string | undefined;
    for (const [token, r] of this.refreshTokens)
      if (r.clientId === clientId && r.replacedAt === undefined) newest = token;
    return newest;
  }

  /** Makes every access token issued so far expired (the next call answers 401 TokenExpired). */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0;
  }

  /** The next requests of a kind fail as given, in order. */
  failNext(...failures: SimFailure[]): void {
    this.failures.push(...failures);
  }

  /** Forgets recorded requests and counters (not tokens, tenants or limits). */
  clearRecords(): void {
    this.requests.length = 0;
    this.refreshTokensPresented.length = 0;
    this.refreshCount = 0;
    this.clientCredentialsCount = 0;
    this.maxConcurrentTokenRequests = 0;
  }

  /** Resets the per-tenant call counters. */
  resetLimits(): void {
    this.minute.clear();
    this.day.clear();
  }

  private token(prefix: string): string {
    const t = `${prefix}-${randomBytes(24).toString('base64url')}`;
    this.issued.push(t);
    return t;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const request: SimRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(request);
    let answer: SimAnswer & { headers?: Record<string, string> };
    if (url.pathname === '/connect/token' && request.method === 'POST') {
      this.tokenInFlight += 1;
      this.maxConcurrentTokenRequests = Math.max(this.maxConcurrentTokenRequests, this.tokenInFlight);
      try {
        if (this.tokenDelayMs > 0) await sleep(this.tokenDelayMs);
        answer = this.failure('token') ?? this.tokenAnswer(request);
      } finally {
        this.tokenInFlight -= 1;
      }
    } else if (url.pathname === '/connections' && request.method === 'GET') {
      answer = this.failure('connections') ?? this.connectionsAnswer(request);
    } else if (url.pathname.startsWith('/api.xro/2.0/') && request.method === 'GET') {
      answer = this.failure('api') ?? this.apiAnswer(request, url.pathname.slice('/api.xro/2.0/'.length));
    } else {
      answer = notFound();
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': answer.contentType ?? 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...answer.headers,
    });
    res.end(text);
  }

  private failure(
    on: NonNullable<SimFailure['on']>,
  ): (SimAnswer & { headers?: Record<string, string> }) | undefined {
    const i = this.failures.findIndex((f) => (f.on ?? 'api') === on);
    if (i < 0) return undefined;
    const [f] = this.failures.splice(i, 1);
    const headers: Record<string, string> = {};
    if (f.retryAfter !== undefined) headers['retry-after'] = String(f.retryAfter);
    if (f.problem) headers['x-rate-limit-problem'] = f.problem;
    // Xero's 429 body is unconfirmed: plain text here, so a client that parses it fails the tests.
    if (f.status === 429 && f.body === undefined)
      return { status: 429, body: 'Rate limit exceeded', contentType: 'text/plain', headers };
    if (typeof f.body === 'string')
      return {
        status: f.status,
        body: f.body,
        contentType: f.contentType ?? 'text/html; charset=utf-8',
        headers,
      };
    return { status: f.status, body: f.body ?? { Title: 'Error', Status: f.status }, headers };
  }

  /** Client auth by HTTP Basic or by client_id/client_secret in the form. */
  private client(req: SimRequest, form: URLSearchParams): [string, SimClient] | undefined {
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    const client = id === undefined ? undefined : this.clients.get(id);
    return client && client.secret === secret ? [id!, client] : undefined;
  }

  private tokenAnswer(req: SimRequest): SimAnswer {
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? ''))
      return { status: 400, body: { error: 'invalid_request' } };
    const form = new URLSearchParams(req.body);
    const found = this.client(req, form);
    if (!found) return { status: 400, body: { error: 'invalid_client' } };
    const [clientId, client] = found;
    const grant = form.get('grant_type');
    if (grant === 'client_credentials') {
      if (client.kind !== 'custom') return { status: 400, body: { error: 'unauthorized_client' } };
      this.clientCredentialsCount += 1;
      return { status: 200, body: this.accessToken(clientId) };
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      this.refreshTokensPresented.push(presented);
      const record = this.refreshTokens.get(presented);
      const usable =
        record?.clientId === clientId &&
        (record.replacedAt === undefined || Date.now() - record.replacedAt < this.refreshGraceMs);
      if (!usable || client.kind !== 'oauth') return { status: 400, body: { error: 'invalid_grant' } };
      for (const r of this.refreshTokens.values())
        if (r.clientId === clientId && r.replacedAt === undefined) r.replacedAt = Date.now();
      const refreshToken = this.token('sim-rt');
      this.refreshTokens.set(refreshToken, { clientId });
      this.refreshCount += 1;
      return {
        status: 200,
        body: { ...this.accessToken(clientId), refresh_token: refreshToken, id_token: 'sim-id-token' },
      };
    }
    return { status: 400, body: { error: 'unsupported_grant_type' } };
  }

  private accessToken(clientId: string): Record<string, unknown> {
    const token = this.token('sim-at');
    this.accessTokens.set(token, { clientId, expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000 });
    return {
      access_token: token,
      expires_in: this.accessTokenTtlSeconds,
      token_type: 'Bearer',
      scope: 'accounting.transactions.read accounting.contacts.read accounting.reports.read',
    };
  }

  /** The client of a valid bearer token, or the 401 Xero answers. */
  private bearer(req: SimRequest): SimClient | SimAnswer {
    const auth = req.headers.authorization ?? '';
    const record = auth.startsWith('Bearer ') ? this.accessTokens.get(auth.slice(7)) : undefined;
    if (!record || record.expiresAt <= Date.now())
      return {
        status: 401,
        body: {
          Type: null,
          Title: 'Unauthorized',
          Status: 401,
          Detail: `TokenExpired: token expired at ${new Date(record?.expiresAt ?? 0).toUTCString()}`,
          Instance: randomUUID(),
          Extensions: {},
        },
      };
    return this.clients.get(record.clientId)!;
  }

  private connectionsAnswer(req: SimRequest): SimAnswer {
    const client = this.bearer(req);
    if ('status' in client) return client;
    return {
      status: 200,
      body: client.tenantIds.map((id) => {
        const t = this.tenants.get(id);
        return {
          id: randomUUID(),
          authEventId: randomUUID(),
          tenantId: id,
          tenantType: t?.tenantType ?? 'ORGANISATION',
          tenantName: t?.tenantName ?? null,
          createdDateUtc: '2019-07-09T23:40:30.1833130',
          updatedDateUtc: '2020-05-19T01:49:19.3385500',
        };
      }),
    };
  }

  private apiAnswer(req: SimRequest, resource: string): SimAnswer & { headers?: Record<string, string> } {
    const client = this.bearer(req);
    if ('status' in client) return client;
    const tenantId = String(req.headers['xero-tenant-id'] ?? '');
    const tenant = this.tenants.get(tenantId);
    if (!tenant || !client.tenantIds.includes(tenantId))
      return {
        status: 403,
        body: { Type: null, Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful' },
      };
    const counted = this.countCall(tenantId);
    if ('answer' in counted) return counted.answer;
    const limited = counted.headers;
    if (!(req.headers.accept ?? '').includes('application/json'))
      return {
        status: 200,
        contentType: 'text/xml; charset=utf-8',
        body: '<Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Status>OK</Status></Response>',
        headers: limited,
      };
    const ims = req.headers['if-modified-since'];
    let answer: SimAnswer;
    if (resource === 'Invoices')
      answer = invoicesAnswer(tenant, req.query, typeof ims === 'string' ? ims : undefined);
    else if (resource === 'Contacts') answer = contactsAnswer(tenant, req.query);
    else if (resource === 'Reports/ProfitAndLoss') answer = profitAndLossAnswer(tenant, req.query);
    else answer = notFound();
    return { ...answer, headers: limited };
  }

  /** Counts a call against the tenant's minute and day limits: its rate headers, or the 429. */
  private countCall(
    tenantId: string,
  ): { headers: Record<string, string> } | { answer: SimAnswer & { headers: Record<string, string> } } {
    const now = Date.now();
    const m = bump(this.minute, tenantId, Math.floor(now / 60_000));
    const d = bump(this.day, tenantId, Math.floor(now / 86_400_000));
    if (d > this.dayLimit)
      return { answer: this.tooMany('day', Math.ceil((86_400_000 - (now % 86_400_000)) / 1000)) };
    if (m > this.minuteLimit)
      return { answer: this.tooMany('minute', Math.ceil((60_000 - (now % 60_000)) / 1000)) };
    return {
      headers: {
        'x-minlimit-remaining': String(Math.max(0, this.minuteLimit - m)),
        'x-daylimit-remaining': String(Math.max(0, this.dayLimit - d)),
        'x-appminlimit-remaining': '9999',
      },
    };
  }

  private tooMany(
    problem: 'minute' | 'day',
    retryAfter: number,
  ): SimAnswer & { headers: Record<string, string> } {
    return {
      status: 429,
      body: 'Rate limit exceeded',
      contentType: 'text/plain',
      headers: { 'retry-after': String(retryAfter), 'x-rate-limit-problem': problem },
    };
  }
}

function bump(counters: Map<string, { window: number; count: number }>, key: string, window: number): number {
  const c = counters.get(key);
  if (!c || c.window !== window) {
    counters.set(key, { window, count: 1 });
    return 1;
  }
  c.count += 1;
  return c.count;
}
