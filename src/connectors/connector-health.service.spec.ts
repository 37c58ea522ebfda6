import { NotFoundException } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import type { CredentialsService } from '../credentials/credentials.service';
import { ConnectorHealth } from './connector-health.service';
import { ConnectorCheck, ConnectorChecks } from './http/connector-checks';
import type { UpstreamHttp } from './http/upstream-http.service';
import { UpstreamError, UpstreamService } from './http/upstream.errors';

const PRINCIPAL: Principal = { keyId: 'k1', userId: 'u1', organizationId: 'org-1', permissions: ['admin'] };
const SERVICES: UpstreamService[] = ['xero', 'shopify', 'unleashed', 'anthropic', 'openai'];
type Circuit = { state: 'closed' | 'open' | 'half_open'; retryAfterMs: number };

/** A check per service, each with its own origins (Xero two), run by `run`. */
function checksWith(run: (service: UpstreamService) => Promise<string>, except?: UpstreamService) {
  const checks = new ConnectorChecks();
  for (const service of SERVICES) {
    if (service === except) continue;
    const check: ConnectorCheck = {
      service,
      origins: () =>
        service === 'xero'
          ? ['https://identity.xero.test', 'https://api.xero.test']
          : [`https://${service}.test`],
      check: () => run(service),
    };
    checks.register(check);
  }
  return checks;
}

function setUp(options: {
  circuits?: Record<string, Circuit>;
  run?: (service: UpstreamService) => Promise<string>;
  except?: UpstreamService;
}) {
  const http = {
    circuitOf: (service: UpstreamService, origin: string): Circuit =>
      options.circuits?.[`${service} ${origin}`] ?? { state: 'closed', retryAfterMs: 0 },
  } as unknown as UpstreamHttp;
  const credentials = { list: () => Promise.resolve([]) } as unknown as CredentialsService;
  const checks = checksWith(options.run ?? (() => Promise.resolve('fine')), options.except);
  return new ConnectorHealth(checks, http, credentials);
}

const signal = new AbortController().signal;

describe('ConnectorHealth', () => {
  it('refuses to start when a service has no admin check, naming it', () => {
    expect(() => setUp({ except: 'openai' }).onApplicationBootstrap()).toThrow(
      'ConnectorHealth: no admin check for openai',
    );
    expect(() => setUp({}).onApplicationBootstrap()).not.toThrow();
  });

  it("reports the worst circuit among a service's hosts, whichever host it is", async () => {
    const open = { state: 'open', retryAfterMs: 30_000 } as const;
    const half = { state: 'half_open', retryAfterMs: 0 } as const;
    const closed = { state: 'closed', retryAfterMs: 0 } as const;
    const xero = async (identity: Circuit, api: Circuit) =>
      (
        await setUp({
          circuits: { 'xero https://identity.xero.test': identity, 'xero https://api.xero.test': api },
        }).list(PRINCIPAL)
      ).items.find((i) => i.service === 'xero')!.circuit;
    expect(await xero(closed, open)).toEqual({ state: 'open', scope: 'service', retryAfterSeconds: 30 });
    expect(await xero(open, closed)).toEqual({ state: 'open', scope: 'service', retryAfterSeconds: 30 });
    expect(await xero(half, open)).toMatchObject({ state: 'open' });
    expect(await xero(open, half)).toMatchObject({ state: 'open' });
    expect(await xero(closed, half)).toEqual({
      state: 'half_open',
      scope: 'service',
      retryAfterSeconds: null,
    });
    expect(await xero(half, closed)).toMatchObject({ state: 'half_open' });
  });

  it('an open circuit says when it lets a trial through, in whole seconds rounded up, at least 1', async () => {
    const after = async (retryAfterMs: number) =>
      (
        await setUp({ circuits: { 'openai https://openai.test': { state: 'open', retryAfterMs } } }).list(
          PRINCIPAL,
        )
      ).items.find((i) => i.service === 'openai')!.circuit.retryAfterSeconds;
    expect(await after(59_001)).toBe(60);
    expect(await after(1_000)).toBe(1);
    expect(await after(1)).toBe(1);
    expect(await after(0)).toBe(1);
  });

  it('a check that fails with something other than a tool error is thrown, not reported as a failed check', async () => {
    const fault = new Error('database down');
    const health = setUp({ run: () => Promise.reject(fault) });
    await expect(health.check(PRINCIPAL, 'xero', 'r1', signal)).rejects.toBe(fault);
  });

  it('a failed check carries the code, message and retry-after of the tool error', async () => {
    const health = setUp({ run: (s) => Promise.reject(UpstreamError.rateLimited(s, 7)) });
    expect(await health.check(PRINCIPAL, 'anthropic', 'r1', signal)).toEqual({
      service: 'anthropic',
      ok: false,
      checkedAt: expect.any(String),
      durationMs: expect.any(Number),
      code: 'upstream_rate_limited',
      message: 'Anthropic is rate limiting requests for this organisation; retry after 7 s.',
      retryAfterSeconds: 7,
    });
  });

  it('times the check from its start to its answer', async () => {
    const health = setUp({ run: () => new Promise((resolve) => setTimeout(() => resolve('slow'), 60)) });
    const before = Date.now();
    const result = await health.check(PRINCIPAL, 'unleashed', 'r1', signal);
    const after = Date.now();
    expect(result).toMatchObject({ ok: true, detail: 'slow' });
    expect(result.durationMs).toBeGreaterThanOrEqual(50);
    // checkedAt is when the check began: it and its duration end no later than the answer came back.
    expect(Date.parse(result.checkedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(result.checkedAt) + result.durationMs).toBeLessThanOrEqual(after + 2);
  });

  it('quotes an unknown service whole up to 100 characters, cut with "..." beyond', async () => {
    const messageFor = async (service: string) => {
      const e = await setUp({})
        .check(PRINCIPAL, service, 'r1', signal)
        .catch((err: unknown) => err);
      expect(e).toBeInstanceOf(NotFoundException);
      return ((e as NotFoundException).getResponse() as { message: string }).message;
    };
    const valid = 'xero, shopify, unleashed, anthropic, openai';
    expect(await messageFor('y'.repeat(100))).toBe(
      `unknown service "${'y'.repeat(100)}": must be one of ${valid}`,
    );
    expect(await messageFor('y'.repeat(101))).toBe(
      `unknown service "${'y'.repeat(100)}...": must be one of ${valid}`,
    );
  });
});
