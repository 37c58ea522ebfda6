/**
 * The AuditInterceptor around a handler that writes its own record in its
 * transaction (an admin change), against SQLite: a success leaves that one
 * row, a failure after it leaves a row of the failed call too (the failure
 * may have rolled the change and its record back), and the failed call's
 * answer waits for that row.
 */
import { CallHandler, ConflictException, ExecutionContext } from '@nestjs/common';
import { defer, lastValueFrom } from 'rxjs';
import { argsDigest } from '../../src/audit/audit-record';
import { AuditInterceptor } from '../../src/audit/audit.interceptor';
import { rec, sqliteRig, useAuditRig } from '../support/audit-rig';

function httpContext(): ExecutionContext {
  const req = {
    method: 'PUT',
    baseUrl: '',
    route: { path: '/credentials/:service' },
    path: '/credentials/xero',
    headers: { 'user-agent': 'interceptor-test' },
    params: { service: 'xero' },
    query: {},
    body: { tenant: 't-1', apiKey: 'sk-live-interceptor-secret' },
    ip: '127.0.0.1',
  };
  const res = { statusCode: 200, headersSent: false, setHeader: () => undefined };
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
}

describe('AuditInterceptor with a record written in the handler transaction (SQLite)', () => {
  const { rig, makeWriter, rows } = useAuditRig(sqliteRig());

  /** A handler that records its change in its transaction, then (if `fail`) throws after it committed. */
  const handler = (writer: ReturnType<typeof makeWriter>, fail: boolean): CallHandler => ({
    handle: () =>
      defer(async () => {
        await rig().ds.transaction((m) =>
          writer.recordInTransaction(m, rec(1, { kind: 'admin', action: 'credential.put' })),
        );
        if (fail) throw new ConflictException('changed meanwhile');
        return { ok: true };
      }),
  });

  it('adds no row to a successful call that recorded itself', async () => {
    const writer = makeWriter(rig().ds);
    const interceptor = new AuditInterceptor(writer);
    await lastValueFrom(interceptor.intercept(httpContext(), handler(writer, false)));
    expect((await rows()).map((r) => r.action)).toEqual(['credential.put']);
  });

  it('records a call that failed after recording itself, before the failure is answered', async () => {
    const writer = makeWriter(rig().ds);
    const interceptor = new AuditInterceptor(writer);
    const failure = await lastValueFrom(interceptor.intercept(httpContext(), handler(writer, true))).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ConflictException);
    const stored = await rows();
    expect(stored.map((r) => [r.kind, r.action, r.status, r.outcome, r.error_code]).sort()).toEqual([
      ['admin', 'PUT /credentials/:service', 409, 'client_error', 'conflict'],
      ['admin', 'credential.put', null, 'success', null],
    ]);
    // The failed call's digest covers its route parameters, query and body, the body's secret redacted.
    const failed = stored.find((r) => r.action === 'PUT /credentials/:service')!;
    expect(failed.args_digest).toBe(
      argsDigest({ params: { service: 'xero' }, query: {}, body: { tenant: 't-1', apiKey: '[REDACTED]' } }),
    );
  });
});
