/**
 * A local Xero (identity + Accounting API) on 127.0.0.1 for e2e tests, built
 * from the facts in UPSTREAMS.md: the token endpoint (client auth by Basic or
 * in the body; client_credentials and rotating refresh tokens with a grace
 * period, then invalid_grant), /connections, the Accounting endpoints with
 * their envelope, paging, Microsoft dates, `Accept: application/json`
 * (XML otherwise), the xero-tenant-id check, 401 for an expired token,
 * per-tenant limits with their headers and 429s (5 calls at a time, 60 a
 * minute, 5,000 a day). Tests can make it fail the next requests, and read
 * what it was sent and how many refreshes it did.
 *
 *   const sim = await XeroSimulator.start();
 *   sim.addTenant(makeTenant(TENANT, 'Demo Company'));
 *   const refreshToken = sim.addOAuthApp('client-1', 'secret-1', [TENANT]);
 */
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { contactsAnswer, invoicesAnswer, profitAndLossAnswer, SimTenant } from './xero-simulator-data';
import {
  accountsAnswer,
  balanceSheetAnswer,
  bankTransactionsAnswer,
  organisationAnswer,
} from './xero-simulator-ledger';
import { notFound, problem, SimAnswer } from './xero-simulator-shapes';
import { SimRequest, XeroIdentity } from './xero-simulator-identity';

export type { SimRequest } from './xero-simulator-identity';

export interface SimFailure {
  status: number;
  /** Retry-After in seconds (a string is sent as it is, to test one a client cannot read). */
  retryAfter?: number | string;
  /** X-Rate-Limit-Problem on a 429: `minute` or `day` as Xero documents; any other value to test the unconfirmed ones. */
  problem?: string;
  /** The body: JSON unless a string (default: Xero-like for the status). */
  body?: unknown;
  /** Content-Type of a string body (default text/html, as Xero's 404s). */
  contentType?: string;
  /** Which requests it applies to (default the Accounting API). */
  on?: 'api' | 'token' | 'connections';
}

export class XeroSimulator extends XeroIdentity {
  readonly requests: SimRequest[] = [];
  /** Most token requests it was answering at the same time. */
  maxConcurrentTokenRequests = 0;
  /** Delay before answering a token request (to make concurrent refreshes overlap). */
  tokenDelayMs = 0;
  /** Per-tenant limits (counted per app and tenant, as Xero does, but calls at a time per tenant). */
  minuteLimit = 60;
  dayLimit = 5000;
  concurrentLimit = 5;
  /** Per-app limit, across its tenants. */
  appMinuteLimit = 10_000;
  /** Delay before answering an Accounting call (to make concurrent calls overlap). */
  apiDelayMs = 0;
  /** Most Accounting calls one tenant had in flight at once (a refused one counted too). */
  maxConcurrentApiRequests = 0;
  /** Accounting calls refused with a 429 for being over concurrentLimit. */
  concurrentRefusals = 0;

  private readonly tenants = new Map<string, SimTenant>();
  private readonly minute = new Map<string, { window: number; count: number }>();
  private readonly day = new Map<string, { window: number; count: number }>();
  private readonly appMinute = new Map<string, { window: number; count: number }>();
  private failures: SimFailure[] = [];
  private tokenInFlight = 0;
  private readonly apiInFlight = new Map<string, number>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    super();
  }

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

  /** The next requests of a kind fail as given, in order. */
  failNext(...failures: SimFailure[]): void {
    this.failures.push(...failures);
  }

  /** Forgets recorded requests and counters (not tokens, tenants or limits). */
  override clearRecords(): void {
    super.clearRecords();
    this.requests.length = 0;
    this.maxConcurrentTokenRequests = 0;
    this.maxConcurrentApiRequests = 0;
    this.concurrentRefusals = 0;
  }

  /** Resets the per-tenant call counters. */
  resetLimits(): void {
    this.minute.clear();
    this.day.clear();
    this.appMinute.clear();
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
      answer =
        this.failure('api') ??
        (await this.inFlight(request, () =>
          this.apiAnswer(request, url.pathname.slice('/api.xro/2.0/'.length)),
        ));
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

  /**
   * Runs an Accounting call as one of its tenant's calls in flight (after
   * apiDelayMs): over concurrentLimit, Xero's 429 instead. Its
   * X-Rate-Limit-Problem value for this limit is unconfirmed, and it has no
   * Retry-After (Xero gives one for the minute and day limits), so a client
   * must cope without one.
   */
  private async inFlight(
    req: SimRequest,
    answer: () => SimAnswer & { headers?: Record<string, string> },
  ): Promise<SimAnswer & { headers?: Record<string, string> }> {
    const tenantId = String(req.headers['xero-tenant-id'] ?? '');
    const now = (this.apiInFlight.get(tenantId) ?? 0) + 1;
    this.apiInFlight.set(tenantId, now);
    this.maxConcurrentApiRequests = Math.max(this.maxConcurrentApiRequests, now);
    try {
      if (now > this.concurrentLimit) {
        this.concurrentRefusals += 1;
        return {
          status: 429,
          body: 'Rate limit exceeded',
          contentType: 'text/plain',
          headers: { 'x-rate-limit-problem': 'concurrent' },
        };
      }
      if (this.apiDelayMs > 0) await sleep(this.apiDelayMs);
      return answer();
    } finally {
      const left = (this.apiInFlight.get(tenantId) ?? 1) - 1;
      if (left > 0) this.apiInFlight.set(tenantId, left);
      else this.apiInFlight.delete(tenantId);
    }
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
    // No header, or a tenant the token's app is not connected to.
    if (!tenant || !client.tenantIds.includes(tenantId))
      return problem(403, 'Forbidden', 'AuthenticationUnsuccessful');
    const counted = this.countCall(client.clientId, tenantId);
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
    else if (resource === 'Organisation') answer = organisationAnswer(tenant);
    else if (resource === 'Accounts') answer = accountsAnswer(tenant, req.query);
    else if (resource === 'BankTransactions') answer = bankTransactionsAnswer(tenant, req.query);
    else if (resource === 'Reports/BalanceSheet') answer = balanceSheetAnswer(tenant, req.query);
    else answer = notFound();
    return { ...answer, headers: limited };
  }

  /**
   * Counts a call against its app and tenant's minute and day limits and its
   * app's minute: its rate headers, or the 429. The X-Rate-Limit-Problem of
   * the app's minute (`appminute` here) is unconfirmed.
   */
  private countCall(
    clientId: string,
    tenantId: string,
  ): { headers: Record<string, string> } | { answer: SimAnswer & { headers: Record<string, string> } } {
    const now = Date.now();
    const scope = `${clientId} ${tenantId}`;
    const m = bump(this.minute, scope, Math.floor(now / 60_000));
    const d = bump(this.day, scope, Math.floor(now / 86_400_000));
    const a = bump(this.appMinute, clientId, Math.floor(now / 60_000));
    const restOfMinute = Math.ceil((60_000 - (now % 60_000)) / 1000);
    if (d > this.dayLimit)
      return { answer: this.tooMany('day', Math.ceil((86_400_000 - (now % 86_400_000)) / 1000)) };
    if (m > this.minuteLimit) return { answer: this.tooMany('minute', restOfMinute) };
    if (a > this.appMinuteLimit) return { answer: this.tooMany('appminute', restOfMinute) };
    return {
      headers: {
        'x-minlimit-remaining': String(Math.max(0, this.minuteLimit - m)),
        'x-daylimit-remaining': String(Math.max(0, this.dayLimit - d)),
        'x-appminlimit-remaining': String(Math.max(0, this.appMinuteLimit - a)),
      },
    };
  }

  private tooMany(
    problem: 'minute' | 'day' | 'appminute',
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
