/**
 * The audit spool shared by two processes on one DATA_DIR (simulated by two
 * AuditSpool instances, which share nothing but the files): a replay cuts off
 * only what it read, appends wait for the lock file, and a lock left by a
 * crashed process is broken once stale.
 */
import {
  existsSync,
  mkdtempSync,
  promises as fsPromises,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditRow, chainHash } from '../../src/audit/audit-record';
import { AuditSpool } from '../../src/audit/audit-spool';
import { until } from '../support/audit-rig';

const row = (writerId: string, seq: number): AuditRow => {
  const unhashed = {
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    organizationId: 'org-spool',
    userId: null,
    keyId: null,
    kind: 'tool_call',
    action: `action-${seq}`,
    outcome: 'success',
    status: null,
    errorCode: null,
    durationMs: null,
    ip: null,
    userAgent: null,
    requestId: null,
    argsDigest: null,
    args: null,
    writerId,
    seq,
  };
  return { ...unhashed, prevHash: null, hash: chainHash(null, unhashed) };
};

describe('audit spool shared by two processes', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-spool-share-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a replay that consumes its snapshot keeps rows the other process appended after it', async () => {
    const replaying = new AuditSpool(dir);
    const appending = new AuditSpool(dir);
    await appending.append([row('w-a', 1), row('w-a', 2)]);
    const snap = await replaying.snapshot();
    expect(snap.rows.map((r) => r.seq)).toEqual([1, 2]);

    await appending.append([row('w-b', 1)]); // between the replay's read and its cut
    await replaying.consume(snap.bytes);

    expect(await replaying.read()).toEqual([row('w-b', 1)]);
    await replaying.consume((await replaying.snapshot()).bytes);
    expect(readFileSync(replaying.path, 'utf8')).toBe('');
    expect(existsSync(replaying.lockPath)).toBe(false);
  });

  it('an append waits while the other process holds the lock, then goes through', async () => {
    const spool = new AuditSpool(dir);
    writeFileSync(spool.lockPath, 'another process\n');
    // Counts its tries to take the lock file: once it has tried twice it has found it taken, and waits.
    const tries = jest.spyOn(fsPromises, 'writeFile');
    let appended = false;
    const append = spool.append([row('w-c', 1)]).then(() => (appended = true));
    try {
      expect(
        await until(() => tries.mock.calls.filter(([path]) => path === spool.lockPath).length >= 2),
      ).toBe(true);
    } finally {
      tries.mockRestore();
    }
    expect(appended).toBe(false);
    expect(existsSync(spool.path)).toBe(false);
    rmSync(spool.lockPath);
    await append;
    expect(await spool.read()).toEqual([row('w-c', 1)]);
  });

  it('breaks a lock file left by a crashed process once it is stale', async () => {
    const spool = new AuditSpool(dir, 1_000);
    writeFileSync(spool.lockPath, 'crashed\n');
    const old = new Date(Date.now() - 5_000);
    utimesSync(spool.lockPath, old, old);
    await spool.append([row('w-d', 1)]);
    expect(await spool.read()).toEqual([row('w-d', 1)]);
    expect(existsSync(spool.lockPath)).toBe(false);
  });

  it('releases only its own lock: one broken as stale meanwhile and retaken by another process stays', async () => {
    const spool = new AuditSpool(dir);
    // While the append holds the lock, another process finds it stale, breaks it and takes its own.
    const realOpen = fsPromises.open.bind(fsPromises);
    const open = jest.spyOn(fsPromises, 'open').mockImplementation(async (path, ...rest) => {
      if (path === spool.path) writeFileSync(spool.lockPath, 'another process\n');
      return realOpen(path, ...rest);
    });
    try {
      await spool.append([row('w-e', 1)]);
    } finally {
      open.mockRestore();
    }
    expect(await spool.size()).toBeGreaterThan(0); // appended (size takes no lock)
    expect(readFileSync(spool.lockPath, 'utf8')).toBe('another process\n');
  });
});
