import express from 'express';
import request from 'supertest';
import { RequestContext } from './request-context';
import { RequestIdMiddleware } from './request-id.middleware';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function appWithMiddleware() {
  const app = express();
  const middleware = new RequestIdMiddleware();
  app.use((req, res, next) => middleware.use(req, res, next));
  app.get('/echo', async (_req, res) => {
    // Cross an async boundary: the context must survive it.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
    res.json({ requestId: RequestContext.requestId() ?? null });
  });
  return app;
}

describe('RequestIdMiddleware', () => {
  const app = appWithMiddleware();

  it.each(['abc-123', 'req_1.2:3', 'A'.repeat(128), '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'])(
    'honours a safe incoming id (%s)',
    async (id) => {
      const res = await request(app).get('/echo').set('X-Request-Id', id).expect(200);
      expect(res.headers['x-request-id']).toBe(id);
      expect(res.body.requestId).toBe(id);
    },
  );

  it('generates a UUID when none is sent', async () => {
    const res = await request(app).get('/echo').expect(200);
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it.each([
    ['too long', 'A'.repeat(129)],
    ['spaces', 'a b'],
    ['markup', '<script>alert(1)</script>'],
    ['log injection', 'id","level":"error'],
    ['non-ascii', 'id-\u00e9'],
  ])('replaces an unsafe id (%s) with a UUID', async (_label, id) => {
    const res = await request(app).get('/echo').set('X-Request-Id', id).expect(200);
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('keeps concurrent requests apart', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `parallel-${i}`);
    const responses = await Promise.all(ids.map((id) => request(app).get('/echo').set('X-Request-Id', id)));
    expect(responses.map((r) => r.body.requestId)).toEqual(ids);
  });

  it('leaves no context behind outside a request', () => {
    expect(RequestContext.current()).toBeUndefined();
    expect(RequestContext.setPrincipal({ keyId: 'k' })).toBe(false);
  });
});
