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
  let schemas: Record<string, { properties: Record<string, Record<string, unknown>> }>;

  beforeAll(async () => {
    // METRICS_PUBLIC=false: /metrics then takes a key like any other route, as in production.
    started = await startApp({ ...AUTH_ENV, METRICS_PUBLIC: 'false' });
    admin = (await issueKey(started, 'org-doc', ['admin'], 'doc admin')).token;
    const doc = (await request(started.url).get('/docs/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: typeof schemas };
    };
    schemas = doc.components.schemas;
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

  it('gives the bounds validation holds a key body to: a whole number of grace seconds, a lifetime of 60 s to 10 years', async () => {
    expect(schemas.RotateApiKeyBody.properties.graceSeconds).toMatchObject({
      type: 'integer',
      minimum: 0,
      maximum: 7 * 86_400,
    });
    const lifetime = schemas.CreateApiKeyBody.properties.expiresIn.oneOf as Array<Record<string, unknown>>;
    expect(lifetime).toEqual([
      expect.objectContaining({ type: 'string', pattern: expect.any(String) }),
      expect.objectContaining({ type: 'integer', minimum: 60, maximum: 10 * 365 * 86_400 }),
    ]);
    // The documented pattern takes what the server takes, and not what it refuses.
    const pattern = new RegExp(lifetime[0].pattern as string);
    const tryIt = async (expiresIn: unknown) =>
      (
        await request(started.url)
          .post('/admin/api-keys')
          .set(bearer(admin))
          .send({ name: 'bounds', permissions: ['xero:read'], expiresIn })
      ).status;
    for (const v of ['30d', '3600', '2w'])
      expect([v, pattern.test(v), await tryIt(v)]).toEqual([v, true, 201]);
    for (const v of ['30 days', '1y', '-5'])
      expect([v, pattern.test(v), await tryIt(v)]).toEqual([v, false, 400]);
    expect(await tryIt(59)).toBe(400);
    expect(
      (
        await request(started.url)
          .post('/admin/api-keys/key_none/rotate')
          .set(bearer(admin))
          .send({ graceSeconds: 1.5 })
      ).status,
    ).toBe(400);
  });
});
