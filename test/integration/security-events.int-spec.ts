/**
 * Security events and audit metrics against a real database (SQLite file):
 * SecurityEventRecorder records a flood's first events one by one and
 * summarises the rest per window with the exact count; the AuditWriter's
 * queue depth is read by /metrics at scrape time, and a batch the database
 * refuses moves audit_write_failures_total and audit_spooled_total.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AuditModule } from '../../src/audit/audit.module';
import { AuditWriter } from '../../src/audit/audit.writer';
import { SecurityEventRecorder, SUPPRESSED_ACTION } from '../../src/audit/security-event.recorder';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { DatabaseModule } from '../../src/database/database.module';
import { MetricsService } from '../../src/metrics/metrics.service';

/** MetricsService as MetricsModule provides it (global), without the HTTP parts. */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
class TestMetricsModule {}

type Row = Record<string, unknown>;

describe('security events and audit metrics (SQLite)', () => {
  let dir: string;
  let app: TestingModule;
  let ds: DataSource;
  let writer: AuditWriter;
  let recorder: SecurityEventRecorder;
  let metrics: MetricsService;

  const rows = (where: string): Promise<Row[]> =>
    ds.query(`SELECT * FROM audit_logs WHERE ${where} ORDER BY id`);
  const sample = async (name: string): Promise<number> => {
    const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1] ?? NaN);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentia-security-events-'));
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dir,
      JWT_SECRET: 's'.repeat(40),
      MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
    });
    app = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot({ retryAttempts: 1 }),
        TestMetricsModule,
        AuditModule.forRoot({
          // The default: no arguments stored, yet the summary's count is (the server's own figures).
          storeArgs: false,
          batchWindowMs: 50,
          replayBaseDelayMs: 60_000, // replays only when the test asks
          // A window far longer than the test: it ends only when the test ends it.
          securityEvents: { perSource: 3, total: 5, maxSources: 10, windowMs: 3_600_000 },
        }),
      ],
    }).compile();
    app.useLogger(false);
    await app.init();
    ds = app.get(DataSource);
    writer = app.get(AuditWriter);
    recorder = app.get(SecurityEventRecorder);
    metrics = app.get(MetricsService);
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the first events of a source one by one and summarises the rest with the exact count', async () => {
    const event = (ip: string, i: number) => ({
      action: 'auth.invalid_token',
      errorCode: 'invalid',
      status: 401,
      ip,
      userAgent: 'flood/1',
      requestId: `flood-${ip}-${i}`,
    });
    const flooder = Array.from({ length: 25 }, (_, i) => recorder.report(event('203.0.113.7', i)));
    const other = Array.from({ length: 4 }, (_, i) => recorder.report(event('198.51.100.2', i)));
    expect(flooder.filter(Boolean)).toHaveLength(3);
    expect(other.filter(Boolean)).toHaveLength(2); // the window's total of 5 is reached
    await recorder.endWindow();
    await writer.flush();

    const one = await rows(`action = 'auth.invalid_token'`);
    expect(one).toHaveLength(5);
    expect(one[0]).toMatchObject({
      kind: 'auth',
      outcome: 'denied',
      status: 401,
      error_code: 'invalid',
      ip: '203.0.113.7',
      user_agent: 'flood/1',
      request_id: 'flood-203.0.113.7-0',
    });
    const summaries = await rows(`action = '${SUPPRESSED_ACTION}'`);
    expect(
      summaries.map((r) => [r.kind, r.ip, r.error_code, r.status, JSON.parse(String(r.args)).suppressed]),
    ).toEqual([
      ['security', '203.0.113.7', 'invalid', 401, 22],
      ['security', '198.51.100.2', 'invalid', 401, 2],
    ]);

    // The next window starts with a full budget.
    expect(recorder.report(event('203.0.113.7', 99))).toBe(true);
  });

  it('serves the writer queue depth at scrape time, and counts refused batches and spooled records', async () => {
    await writer.flush();
    const failuresBefore = await sample('audit_write_failures_total');
    const spooledBefore = await sample('audit_spooled_total');

    // Two records wait in the 50 ms batch window: the scrape reads the writer's queue, not a stale value.
    const pending = [1, 2].map((i) =>
      writer.record({ kind: 'security', action: 'queued', outcome: 'denied', requestId: `q${i}` }),
    );
    expect(writer.queueDepth).toBe(2);
    expect(await sample('audit_queue_depth')).toBe(2);
    await Promise.all(pending);
    expect(await sample('audit_queue_depth')).toBe(0);

    await ds.query(
      `CREATE TRIGGER refuse_batch BEFORE INSERT ON audit_logs WHEN NEW.action = 'refused'
       BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
    try {
      await Promise.all(
        [1, 2, 3].map((i) =>
          writer.record({ kind: 'security', action: 'refused', outcome: 'denied', requestId: `r${i}` }),
        ),
      );
      expect(writer.isSpooling).toBe(true);
    } finally {
      await ds.query('DROP TRIGGER refuse_batch');
    }
    expect((await sample('audit_write_failures_total')) - failuresBefore).toBe(1);
    expect((await sample('audit_spooled_total')) - spooledBefore).toBe(3);

    expect(await writer.replayNow()).toBe(true);
    expect(await rows(`action = 'refused'`)).toHaveLength(3);
  });
});
