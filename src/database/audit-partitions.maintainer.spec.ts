import { DataSource } from 'typeorm';
import { AuditPartitionsMaintainer } from './audit-partitions.maintainer';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The schedule only: when the maintainer runs. What a run does is tested on
 * PostgreSQL (test/integration/database*.int-spec.ts); here `run` is watched
 * and answers at once.
 */
describe('AuditPartitionsMaintainer schedule', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const maintainerOn = (type: string) => {
    const maintainer = new AuditPartitionsMaintainer({ options: { type } } as unknown as DataSource);
    const run = jest.spyOn(maintainer, 'run').mockResolvedValue([]);
    return { maintainer, run };
  };

  it('runs at boot and then once a day on PostgreSQL, and no more once the module is destroyed', async () => {
    const { maintainer, run } = maintainerOn('postgres');
    await maintainer.onApplicationBootstrap();
    expect(run).toHaveBeenCalledTimes(1);

    jest.advanceTimersByTime(DAY_MS - 1);
    expect(run).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(2);
    jest.advanceTimersByTime(DAY_MS);
    expect(run).toHaveBeenCalledTimes(3);

    maintainer.onModuleDestroy();
    jest.advanceTimersByTime(3 * DAY_MS);
    expect(run).toHaveBeenCalledTimes(3);
  });

  it('does not keep the process alive for its daily run', async () => {
    const { maintainer } = maintainerOn('postgres');
    await maintainer.onApplicationBootstrap();
    // The one timer it leaves is unref'd: an app shutting down does not wait a day for it.
    const timer = (maintainer as unknown as { timer?: NodeJS.Timeout }).timer;
    expect(timer?.hasRef()).toBe(false);
    maintainer.onModuleDestroy();
  });

  it('neither runs nor schedules anything on SQLite', async () => {
    const { maintainer, run } = maintainerOn('better-sqlite3');
    await maintainer.onApplicationBootstrap();
    jest.advanceTimersByTime(2 * DAY_MS);
    expect(run).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
    maintainer.onModuleDestroy();
  });
});
