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

describe('RequestIdMiddleware with Server-Timing', () => {
  function timedApp(serverTiming: boolean) {
    const app = express();
    const middleware = new RequestIdMiddleware({ serverTiming });
    app.use((req, res, next) => middleware.use(req, res, next));
    app.get('/timed', async (_req, res) => {
      const reports = RequestContext.reportsServerTiming();
      RequestContext.addServerTiming('tool', 1.234);
      await new Promise((resolve) => setTimeout(resolve, 5));
      RequestContext.addServerTiming('audit', 12);
      res.writeHead(200, { 'content-type': 'application/json' });
      // After the headers: dropped, and the response is not harmed.
      RequestContext.addServerTiming('late', 1);
      res.end(JSON.stringify({ reports }));
    });
    return app;
  }

  it('adds each metric the request reports before its headers leave, in order', async () => {
    const res = await request(timedApp(true)).get('/timed').expect(200);
    expect(res.body).toEqual({ reports: true });
    expect(res.headers['server-timing']).toBe('tool;dur=1.23, audit;dur=12.00');
  });

  it('adds nothing when off, and tells callers so', async () => {
    const res = await request(timedApp(false)).get('/timed').expect(200);
    expect(res.body).toEqual({ reports: false });
    expect(res.headers['server-timing']).toBeUndefined();
  });

  it('is a no-op outside a request', () => {
    expect(RequestContext.reportsServerTiming()).toBe(false);
    expect(() => RequestContext.addServerTiming('tool', 1)).not.toThrow();
  });
});
