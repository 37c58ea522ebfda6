/**
 * The command line and a server's audit spool: a server may be spooling into
 * the same DATA_DIR while an operator runs a command, so the command line
 * never replays (or truncates) a spool it finds there.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditRow, chainHash } from '../../src/audit/audit-record';
import { SPOOL_FILE_NAME } from '../../src/audit/audit.options';
import { main } from '../../src/cli/main';
import { loadConfig } from '../../src/config/load-config';
import { openDataSource } from '../../src/database/open-data-source';

jest.setTimeout(20_000);

function spooledRow(seq: number): AuditRow {
  const unhashed = {
    occurredAt: new Date().toISOString(),
    organizationId: 'acme',
    userId: null,
    keyId: 'key-of-the-server',
    kind: 'tool_call',
    action: 'xero_list_invoices',
    outcome: 'success',
    status: null,
    errorCode: null,
    durationMs: 3,
    ip: null,
    userAgent: null,
    requestId: `req-${seq}`,
    argsDigest: null,
    args: null,
    writerId: 'server-writer-still-spooling',
    seq,
  };
  return { ...unhashed, prevHash: null, hash: chainHash(null, unhashed) };
}

describe('sentia-mcp with an audit spool in DATA_DIR', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-cli-spool-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keys create leaves the spool untouched and replays none of it', async () => {
    const env = { NODE_ENV: 'development', LOG_LEVEL: 'error', DATA_DIR: dataDir };
    const spoolPath = join(dataDir, SPOOL_FILE_NAME);
    const spooled = `${JSON.stringify(spooledRow(1))}\n${JSON.stringify(spooledRow(2))}\n`;
    writeFileSync(spoolPath, spooled, { mode: 0o600 });

    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['keys', 'create', '--org', 'acme', '--name', 'ops', '--permissions', 'admin'],
      env,
      { out: (t) => void out.push(t), err: (t) => void err.push(t) },
    );
    expect({ code, err: err.join('') }).toMatchObject({ code: 0 });

    expect(readFileSync(spoolPath, 'utf8')).toBe(spooled);
    const ds = await openDataSource(loadConfig(env), { migrationsRun: false });
    try {
      const rows: { writer_id: string; action: string }[] = await ds.query(
        'SELECT writer_id, action FROM audit_logs ORDER BY id',
      );
      expect(rows.map((r) => r.action)).toEqual(['api_key.create']); // the command's own record only
    } finally {
      await ds.destroy();
    }
  });
});
