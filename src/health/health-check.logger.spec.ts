import { Logger } from '@nestjs/common';
import { HealthCheckLogger, REPEAT_WINDOW_MS } from './health-check.logger';

describe('HealthCheckLogger', () => {
  let warn: jest.SpyInstance;
  let debug: jest.SpyInstance;
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-12-05T10:00:00Z') });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  it('warns once a minute for the same failed answer, and says how many it left out', () => {
    const logger = new HealthCheckLogger();
    const failed = 'Health Check has failed! {"store":{"status":"down"}}';
    logger.error(failed);
    logger.error(failed);
    logger.error(failed);
    expect(warn.mock.calls).toEqual([[failed]]);
    expect(debug).toHaveBeenCalledTimes(2);
    jest.advanceTimersByTime(REPEAT_WINDOW_MS);
    logger.error(failed);
    expect(warn.mock.calls[1]).toEqual([`${failed} (and 2 times more in the minute before)`]);
  });

  it('warns at once for a different answer', () => {
    const logger = new HealthCheckLogger();
    logger.error('Health Check has failed! {"store":{"status":"down"}}');
    logger.error('Health Check has failed! {"database":{"status":"down"}}');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(debug).not.toHaveBeenCalled();
  });
});
