import request from 'supertest';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

type Operation = {
  description?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; schema?: { enum?: string[] } }>;
  requestBody?: unknown;
  responses: Record<string, unknown>;
};

/**
 * The OpenAPI document at /docs/openapi.json against what the routes answer:
 * a generated client (or a reader of Swagger UI) is told every answer it can get.
 */
describe('OpenAPI document (/docs/openapi.json)', () => {
  let started: StartedApp;
  let admin: string;
  let operations: Array<[string, string, string, Operation]>;

  beforeAll(async () => {
    // METRICS_PUBLIC=false: /metrics then takes a key like any other route, as in production.
    started = await startApp({ ...AUTH_ENV, METRICS_PUBLIC: 'false' });
    admin = (await issueKey(started, 'org-doc', ['admin'], 'doc admin')).token;
    const doc = (await request(started.url).get('/docs/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(
        ([method, op]) => [`${method.toUpperCase()} ${path}`, method, path, op] as const,
      ),
    ) as Array<[string, string, string, Operation]>;
  });

  afterAll(async () => {
    await started?.close();
  });

  it('documents the success answer of every operation', () => {
    expect(operations.length).toBeGreaterThanOrEqual(17);
    const without = operations
      .filter(([, , , op]) => !Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)))
      .map(([name]) => name);
    expect(without).toEqual([]);
  });

  it("documents a keyed operation's 401, 403 and 429", () => {
    const keyed = operations.filter(([, , , op]) => (op.security ?? []).length > 0);
    expect(keyed.map(([name]) => name)).toContain('GET /metrics');
    const missing = keyed.flatMap(([name, , , op]) =>
      ['401', '403', '429'].filter((s) => !(s in op.responses)).map((s) => `${name} ${s}`),
    );
    expect(missing).toEqual([]);
  });

  it('documents the 400 of every operation that refuses an unknown query parameter or body field', async () => {
    const concrete = (path: string) => path.replace('{id}', 'key_none').replace('{service}', 'xero');
    const refusing: string[] = [];
    const undocumented: string[] = [];
    for (const [name, method, path, op] of operations) {
      if ((op.security ?? []).length === 0) continue;
      const call = request(started.url)
        [method as 'get' | 'post' | 'put' | 'delete'](`${concrete(path)}?zz_unknown=1`)
        .set(bearer(admin));
      // Refused before anything runs: an unknown query parameter, or an unknown body field.
      const res = method === 'get' || method === 'delete' ? await call : await call.send({ zz_unknown: 1 });
      if (res.status === 400) refusing.push(name);
      if (res.status === 400 && !('400' in op.responses)) undocumented.push(`${name}: ${res.body.code}`);
    }
    expect(undocumented).toEqual([]);
    // What the probe reached: the routes that check their input.
    expect(refusing).toEqual(
      expect.arrayContaining([
        'GET /admin/api-keys',
        'POST /admin/api-keys/{id}/revoke',
        'POST /admin/api-keys/{id}/rotate',
        'GET /credentials',
        'GET /admin/audit',
      ]),
    );
  });

  it("names every audit kind in the audit list's description", () => {
    const [, , , list] = operations.find(([name]) => name === 'GET /admin/audit')!;
    const kinds = list.parameters!.find((p) => p.name === 'kind')!.schema!.enum!;
    expect(kinds).toContain('resource_read');
    for (const kind of kinds) expect([kind, list.description]).toEqual([kind, expect.stringContaining(kind)]);
  });
});
