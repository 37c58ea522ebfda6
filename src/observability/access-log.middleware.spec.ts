import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AccessLogMiddleware } from './access-log.middleware';

describe('AccessLogMiddleware', () => {
  it('logs method, route pattern, status and duration when the response finishes, never the raw URL', () => {
    const verbose = jest.spyOn(Logger.prototype, 'verbose').mockImplementation(() => undefined);
    const req = {
      method: 'GET',
      originalUrl: '/admin/api-keys/key_1?token=secret',
      route: { path: '/admin/api-keys/:id' },
    };
    const res = Object.assign(new EventEmitter(), { statusCode: 404 });
    const next = jest.fn();
    new AccessLogMiddleware().use(req as unknown as Request, res as unknown as Response, next);
    expect(next).toHaveBeenCalled();
    expect(verbose).not.toHaveBeenCalled();
    res.emit('finish');
    expect(verbose).toHaveBeenCalledWith(
      expect.objectContaining({
        event: 'api_call',
        method: 'GET',
        route: '/admin/api-keys/:id',
        status: 404,
        durationMs: expect.any(Number),
      }),
    );
    expect(JSON.stringify(verbose.mock.calls)).not.toContain('secret');
  });
});
