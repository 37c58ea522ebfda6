import type { Environment } from '../config/config.types';
import { OriginPolicy } from './origin-check';

const policy = (
  over: { allowedHosts?: string[]; allowedOrigins?: string[]; base?: string; env?: Environment } = {},
) =>
  new OriginPolicy({
    env: over.env ?? 'development',
    publicBaseUrl: over.base ?? 'http://127.0.0.1:3000',
    mcp: {
      allowedHosts: over.allowedHosts ?? [],
      allowedOrigins: over.allowedOrigins ?? [],
      maxBodyBytes: 1,
      sessionTtlSeconds: 60,
      maxSessionsPerKey: 100,
      maxStreamsPerOrg: 256,
      toolCacheTtlSeconds: 0,
      toolCacheMaxEntryBytes: 1024,
      conformanceFixtures: false,
    },
  });

describe('OriginPolicy (DNS rebinding protection)', () => {
  it('accepts loopback hosts and origins by default and refuses others', () => {
    const p = policy();
    expect(p.check('localhost:3000', undefined)).toEqual({ ok: true });
    expect(p.check('[::1]:3000', 'http://[::1]:3000')).toEqual({ ok: true });
    // An IPv6 Host without a port (port 80) names the same host: its colons are not a port's.
    expect(p.check('[::1]', 'http://[::1]')).toEqual({ ok: true });
    expect(p.check('127.0.0.1:3000', 'http://localhost:5173')).toEqual({ ok: true });
    expect(p.check('evil.example.com', undefined)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('Host'),
    });
    expect(p.check('localhost:3000', 'http://evil.example.com')).toMatchObject({ ok: false });
    expect(p.check('localhost:3000', 'null')).toMatchObject({ ok: false });
    expect(p.check(undefined, undefined)).toMatchObject({ ok: false });
  });

  it('accepts the public base URL host and origin in a deployment', () => {
    const p = policy({ base: 'https://mcp.example.com' });
    expect(p.check('mcp.example.com', 'https://mcp.example.com')).toEqual({ ok: true });
    expect(p.check('mcp.example.com', 'https://other.example.com')).toMatchObject({ ok: false });
  });

  it('in staging and production trusts no loopback origin by default: a local page has no business here', () => {
    for (const env of ['production', 'staging'] as const) {
      const p = policy({ base: 'https://mcp.example.com', env });
      expect([env, p.check('mcp.example.com', 'http://localhost:8080')]).toMatchObject([env, { ok: false }]);
      expect([env, p.check('mcp.example.com', 'https://mcp.example.com')]).toEqual([env, { ok: true }]);
    }
    // Named explicitly, it is trusted like any other.
    const named = policy({ env: 'production', allowedOrigins: ['http://localhost:8080'] });
    expect(named.check('127.0.0.1:3000', 'http://localhost:8080')).toEqual({ ok: true });
  });

  it('uses ALLOWED_HOSTS / ALLOWED_ORIGINS instead of the defaults when given', () => {
    const p = policy({ allowedHosts: ['api.example.com'], allowedOrigins: ['https://app.example.com'] });
    expect(p.check('api.example.com:443', 'https://app.example.com')).toEqual({ ok: true });
    expect(p.check('localhost:3000', undefined)).toMatchObject({ ok: false });
    expect(p.check('api.example.com', 'http://localhost:5173')).toMatchObject({ ok: false });
  });

  it('matches ALLOWED_ORIGINS as browsers send an Origin: no trailing slash, any case in the setting', () => {
    // The configuration keeps an entry as written (`http://localhost:5173/` passes its check).
    const p = policy({
      env: 'production',
      allowedOrigins: ['https://App.Example.com/', 'http://localhost:5173/'],
    });
    expect(p.check('127.0.0.1:3000', 'https://app.example.com')).toEqual({ ok: true });
    expect(p.check('127.0.0.1:3000', 'http://localhost:5173')).toEqual({ ok: true });
    expect(p.check('127.0.0.1:3000', 'https://app.example.com.evil.test')).toMatchObject({ ok: false });
  });
});
