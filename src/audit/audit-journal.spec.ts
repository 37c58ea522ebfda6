import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainRows, newAuditChain } from './audit-chain';
import { AuditJournal, DEFAULT_JOURNAL_LIMITS } from './audit-journal';
import type { AuditRow } from './audit-record';
import { toAuditRow } from './audit-row';

/** `n` rows of one chain, seq 1..n. */
function chained(n: number): AuditRow[] {
  const rows = Array.from({ length: n }, (_, i) =>
    toAuditRow({ kind: 'tool_call', action: `t${i + 1}`, outcome: 'success' }, false),
  );
  chainRows(newAuditChain(), rows);
  return rows;
}

/** An insert that stores into `stored` (by seq), refusing its call number `refuse` (1-based) if given. */
function database(refuse?: number) {
  const stored: number[][] = [];
  let calls = 0;
  const insert = (rows: AuditRow[]) => {
    calls++;
    if (calls === refuse) return Promise.reject(new Error('database down'));
    stored.push(rows.map((r) => r.seq));
    return Promise.resolve();
  };
  return { stored, insert };
}

describe('AuditJournal', () => {
  let dir: string;
  const journals: AuditJournal[] = [];
  const journal = () => {
    const j = new AuditJournal(dir, { ...DEFAULT_JOURNAL_LIMITS });
    journals.push(j);
    return j;
  };
  const segments = () => readdirSync(join(dir, 'audit-journal')).filter((n) => n.endsWith('.ndjson'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-journal-unit-'));
  });
  afterEach(() => {
    for (const j of journals.splice(0)) j.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships in append order, batchMaxRows at a time; a refused batch and every later one stay for the next ship', async () => {
    const j = journal();
    const rows = chained(5);
    j.appendSync(rows.slice(0, 2));
    j.appendSync(rows.slice(2, 3));
    j.appendSync(rows.slice(3));

    const down = database(2);
    await expect(j.ship(down.insert, 2)).rejects.toThrow('database down');
    expect(down.stored).toEqual([[1, 2]]);
    expect(j.pendingRows).toBe(3);

    const up = database();
    expect(await j.ship(up.insert, 2)).toBe(3);
    expect(up.stored).toEqual([[3, 4], [5]]);
    expect(j.pendingRows).toBe(0);
  });

  it('never ships its own live journal as an orphan', async () => {
    const j = journal();
    j.appendSync(chained(2));
    const db = database();
    expect(await j.recoverOrphans(db.insert, 10)).toBe(0);
    expect(db.stored).toEqual([]);
    expect(segments()).toHaveLength(1);
    expect(existsSync(j.ownerPath)).toBe(true);
  });

  it("keeps an orphan's segment until the database has taken its rows", async () => {
    const gone = journal();
    gone.appendSync(chained(3));
    gone.close(); // a shutdown while the database was down: the segment stays, its owner file goes
    expect(segments()).toHaveLength(1);

    const next = journal();
    await expect(next.recoverOrphans(database(1).insert, 10)).rejects.toThrow('database down');
    expect(segments()).toHaveLength(1);

    const up = database();
    expect(await next.recoverOrphans(up.insert, 10)).toBe(3);
    expect(up.stored).toEqual([[1, 2, 3]]);
    expect(segments()).toEqual([]);
  });

  it("tells a journal whose owner's pid now belongs to another process (started at another time) from a live one", async () => {
    // A running process of this host: the parent of this one, as an owner would be.
    const pid = process.ppid;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const journalDir = join(dir, 'audit-journal');
    mkdirSync(journalDir, { recursive: true });
    const leave = (ownerStarted: string) => {
      const id = randomUUID();
      writeFileSync(
        join(journalDir, `${id}.owner`),
        JSON.stringify({ pid, host: hostname(), journal: id, started: ownerStarted }),
      );
      writeFileSync(
        join(journalDir, `${id}.00000001.ndjson`),
        chained(1)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
      );
      return id;
    };
    const alive = leave(started);
    leave(String(Number(started) + 1)); // the pid was reused: its owner is gone
    const db = database();
    expect(await journal().recoverOrphans(db.insert, 10)).toBe(1);
    expect(segments()).toEqual([`${alive}.00000001.ndjson`]);
  });
});
