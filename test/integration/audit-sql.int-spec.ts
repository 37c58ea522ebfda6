/**
 * The audit batch INSERT on PostgreSQL goes as a named (prepared) statement,
 * and falls back to an unnamed one when something between the app and the
 * database loses prepared statements (a pooler in transaction mode). The
 * loss is reproduced with DEALLOCATE on the pool's only connection: the
 * driver still believes the statement is prepared, the server does not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { insertAuditRows } from '../../src/audit/audit-sql';
import { toAuditRow } from '../../src/audit/audit-row';
import { openDataSource } from '../../src/database/open-data-source';
import { rec } from '../support/audit-rig';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';

const NAMED = 'sentia_audit_insert';

describeWithPostgres('audit batch INSERT on PostgreSQL', () => {
  const schema = uniqueName('auditsql');
  let dir: string;
  let ds: DataSource;
  let seq = 0;

  const insert = (requestId: string) =>
    insertAuditRows(ds, [
      { ...toAuditRow(rec(1, { requestId }), false), writerId: 'w-sql', seq: ++seq, hash: `h${seq}` },
    ]);
  const prepared = async () =>
    ((await ds.query('SELECT name FROM pg_prepared_statements')) as { name: string }[]).map((r) => r.name);
  const stored = async () =>
    ((await ds.query('SELECT request_id FROM audit_logs ORDER BY seq')) as { request_id: string }[]).map(
      (r) => r.request_id,
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-sql-'));
    // One pooled connection, so the DEALLOCATE below reaches the connection the INSERT uses.
    ds = await openDataSource(configFor(dir, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_POOL_SIZE: '1' }), {
      schema,
      migrationsRun: true,
    });
  });

  afterAll(async () => {
    await ds?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await ds?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares the INSERT once on a connection and reuses it', async () => {
    await insert('named-1');
    await insert('named-2');
    expect(await prepared()).toEqual([NAMED]);
    expect(await stored()).toEqual(['named-1', 'named-2']);
  });

  it('sends it unnamed when the prepared statement was lost, storing each batch once, and stays unnamed', async () => {
    await ds.query(`DEALLOCATE ${NAMED}`);
    await insert('after-loss'); // the named statement fails (26000) and is sent again unnamed
    expect(await stored()).toEqual(['named-1', 'named-2', 'after-loss']);
    await insert('unnamed');
    expect(await prepared()).toEqual([]); // not prepared again on this pool
    expect(await stored()).toEqual(['named-1', 'named-2', 'after-loss', 'unnamed']);
  });
});
