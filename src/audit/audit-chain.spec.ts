import { chainRows, newAuditChain } from './audit-chain';
import { chainHash } from './audit-record';
import { toAuditRow } from './audit-row';

const row = (action: string) => toAuditRow({ kind: 'tool_call', action, outcome: 'success' }, false);

describe('chainRows', () => {
  it('numbers rows from 1, links each to the one before and hashes what verify re-hashes', () => {
    const chain = newAuditChain();
    const rows = [row('a'), row('b'), row('c')];
    const canonical = chainRows(chain, rows);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows.every((r) => r.writerId === chain.writerId)).toBe(true);
    expect(rows[0].prevHash).toBeNull();
    expect(rows[1].prevHash).toBe(rows[0].hash);
    expect(rows[2].prevHash).toBe(rows[1].hash);
    for (const r of rows) expect(r.hash).toBe(chainHash(r.prevHash, r));
    expect(canonical[1]).toContain('"b"');
    expect(chain).toMatchObject({ seq: 3, lastHash: rows[2].hash });
  });

  it('continues a chain across batches and starts fresh chains apart', () => {
    const chain = newAuditChain();
    const first = [row('a')];
    chainRows(chain, first);
    const second = [row('b')];
    chainRows(chain, second);
    expect(second[0]).toMatchObject({ seq: 2, prevHash: first[0].hash });
    expect(newAuditChain().writerId).not.toBe(chain.writerId);
  });
});

describe('toAuditRow', () => {
  it('digests the arguments and stores them only when asked, redacted', () => {
    const args = { invoice: 'INV-1', password: 'hunter2-secret' };
    const plain = toAuditRow({ kind: 'tool_call', action: 't', outcome: 'success', args }, false);
    const stored = toAuditRow({ kind: 'tool_call', action: 't', outcome: 'success', args }, true);
    expect(plain.argsDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.argsDigest).toBe(plain.argsDigest);
    expect(plain.args).toBeNull();
    expect(stored.args).toContain('INV-1');
    expect(stored.args).not.toContain('hunter2-secret');
  });

  it('fits hostile values to their columns', () => {
    const r = toAuditRow(
      {
        kind: 'tool_call',
        action: 'x'.repeat(1000),
        outcome: 'success',
        status: 1e12,
        durationMs: Number.NaN,
        userAgent: 'u'.repeat(5000),
      },
      false,
    );
    expect(r.action).toHaveLength(200);
    expect(r.userAgent).toHaveLength(512);
    expect(r.status).toBe(2147483647);
    expect(r.durationMs).toBeNull();
  });
});
