import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.types';
import { openDataSource } from '../database/open-data-source';
import { parseIsoTime } from '../audit/audit-query';
import { verifyAuditChains } from '../audit/audit-verify';
import {
  PruneBusyError,
  PruneCutoffError,
  pruneAuditTrail,
  PruneRefusedError,
  PruneResult,
} from '../audit/audit-prune';
import { redactString } from '../observability/redact';
import { CliIo, UsageError } from './cli-io';

export const AUDIT_USAGE = `  sentia-mcp audit verify [--from ISO] [--to ISO] [--json]
                       walk every audit hash chain; exit 1 naming the first broken or missing link,
                       3 when the trail could not be read (database unreachable, say)
  sentia-mcp audit prune --before YYYY-MM [--dry-run] [--json]
                       remove the audit records older than that month (UTC; the current month at the
                       latest), for a retention policy; export first what must be kept. Verifies them
                       first and refuses (exit 1, trail_broken) a trail that does not verify; anchors
                       each chain so audit verify still passes; leaves an audit record of its own. On
                       PostgreSQL it gives up after 2 s, changing nothing (exit 1, trail_busy), while a
                       long read (an export, a verify) holds the months it would drop: run it again`;

/** Exit code of `audit verify` when it could not check (nothing is known of the chains): not 1, "broken". */
export const VERIFY_COULD_NOT_CHECK = 3;

/** The same times the REST filters take (parseIsoTime): a date that does not exist is refused. */
function parseDate(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = parseIsoTime(value);
  if (!d)
    throw new UsageError(
      `audit verify: --${flag} must be an ISO 8601 date or time that exists, e.g. 2026-03-01T00:00:00Z (got "${value}")`,
    );
  return d;
}

/** `sentia-mcp audit verify | prune`. */
export async function runAudit(config: AppConfig, argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'prune') return runPrune(config, rest, io);
  if (sub !== 'verify')
    throw new UsageError(
      sub
        ? `audit: unknown subcommand "${sub}" (verify or prune)`
        : 'audit: missing subcommand (verify or prune)',
    );
  return runVerify(config, rest, io);
}

/** `sentia-mcp audit verify`: 0 when every chain is intact, 1 at the first break. */
async function runVerify(config: AppConfig, rest: string[], io: CliIo): Promise<number> {
  let values: { from?: string; to?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(`audit verify: ${(e as Error).message}`);
  }
  onceEach('audit verify', rest, ['from', 'to', 'json']);
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  // A reversed or empty range (--to is exclusive: --from equal to it takes nothing) holds no record:
  // "OK: 0 records verified" would vouch for nothing.
  if (from && to && from.getTime() >= to.getTime())
    throw new UsageError('audit verify: --to must be after --from (the range ends just before --to)');
  let ds: Awaited<ReturnType<typeof openDataSource>>;
  let result: Awaited<ReturnType<typeof verifyAuditChains>>;
  try {
    // Reading only: a missing SQLite file or PostgreSQL schema is reported, not created empty.
    ds = await openDataSource(config, { migrationsRun: false, existingOnly: true });
  } catch (e) {
    return couldNotCheck(io, e, values.json);
  }
  try {
    try {
      if (!(await hasAuditTable(ds)))
        return couldNotCheck(
          io,
          new Error(
            'the database has no audit_logs table (never migrated: `sentia-mcp migrate`, or starting the server, creates it)',
          ),
          values.json,
        );
      result = await verifyAuditChains(ds, { from, to, ownConnection: true });
    } catch (e) {
      return couldNotCheck(io, e, values.json);
    }
    if (values.json) {
      io.out(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      io.out(
        `OK: ${result.checked} audit records in ${result.chains} chains verified, ${result.heads} chain heads matched` +
          (result.anchored > 0 ? `; ${result.anchored} chains resume after a prune, at their anchors` : '') +
          '\n',
      );
    } else {
      const b = result.firstBroken!;
      io.out(
        (b.id === null
          ? `BROKEN: chain ${b.writerId}: its last row, seq ${b.seq} (head moved ${b.occurredAt}), is gone: truncated\n`
          : `BROKEN: audit record id ${b.id} (writer ${b.writerId}, seq ${b.seq}, ${b.occurredAt}): ${b.reason.replace('_', ' ')}\n`) +
          `${result.checked} records checked in ${result.chains} chains\n`,
      );
    }
    return result.ok ? 0 : 1;
  } finally {
    await ds.destroy();
  }
}

/** A flag given twice is refused rather than the last one silently winning. */
function onceEach(command: string, args: string[], flags: string[]): void {
  for (const flag of flags) {
    const given = args.filter((a) => a === `--${flag}` || a.startsWith(`--${flag}=`)).length;
    if (given > 1) throw new UsageError(`${command}: --${flag} given ${given} times; give it once`);
  }
}

const hasAuditTable = (ds: DataSource): Promise<boolean> => hasTable(ds, 'audit_logs');

async function hasTable(ds: DataSource, name: string): Promise<boolean> {
  const rows = (await (ds.options.type === 'postgres'
    ? ds.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [name])
    : ds.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [name]))) as unknown[];
  return rows.length > 0;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * `sentia-mcp audit prune --before YYYY-MM`: 0 when done (or nothing was
 * older), 1 when the trail before the cutoff does not verify, 2 for a cutoff
 * that is not a past or current month, 3 when the trail could not be read.
 */
async function runPrune(config: AppConfig, rest: string[], io: CliIo): Promise<number> {
  let values: { before?: string; 'dry-run'?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { before: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(`audit prune: ${(e as Error).message}`);
  }
  onceEach('audit prune', rest, ['before', 'dry-run', 'json']);
  if (values.before === undefined)
    throw new UsageError('audit prune: --before YYYY-MM is required: records older than that month go');
  const month = MONTH.exec(values.before);
  if (!month)
    throw new UsageError(
      `audit prune: --before must be a month as YYYY-MM, e.g. 2026-01 (got "${values.before}")`,
    );
  const before = new Date(Date.UTC(Number(month[1]), Number(month[2]) - 1, 1));
  const json = values.json === true;

  let ds: Awaited<ReturnType<typeof openDataSource>>;
  try {
    ds = await openDataSource(config, { migrationsRun: false, existingOnly: true });
  } catch (e) {
    return trailUnreadable(io, 'audit prune', e, json);
  }
  try {
    let result: PruneResult;
    try {
      if (!(await hasAuditTable(ds)) || !(await hasTable(ds, 'audit_chain_anchors')))
        return trailUnreadable(
          io,
          'audit prune',
          new Error(
            'the database is not migrated to this version (`sentia-mcp migrate`, or starting the server, does it)',
          ),
          json,
        );
      result = await pruneAuditTrail(ds, { before, dryRun: values['dry-run'] === true, ownConnection: true });
    } catch (e) {
      if (e instanceof PruneCutoffError) throw new UsageError(`audit prune: ${e.message}`);
      if (e instanceof PruneRefusedError || e instanceof PruneBusyError) {
        const busy = e instanceof PruneBusyError;
        const message = `audit prune ${busy ? 'did not run' : 'refused'}: ${e.message}`;
        const code = busy ? 'trail_busy' : 'trail_broken';
        io.err(json ? `${JSON.stringify({ error: { code, message } })}\n` : `sentia-mcp: ${message}\n`);
        return 1;
      }
      return trailUnreadable(io, 'audit prune', e, json);
    }
    if (json) io.out(`${JSON.stringify(result)}\n`);
    else io.out(`${describePrune(result)}\n`);
    return 0;
  } finally {
    await ds.destroy();
  }
}

function describePrune(r: PruneResult): string {
  const cutoff = r.before.slice(0, 7);
  const kept =
    r.kept > 0
      ? `; ${r.kept} older records stay, as records of their chains written before them are newer (the next prune takes them)`
      : '';
  const partitions =
    r.partitionsDropped.length > 0 ? ` (partitions dropped: ${r.partitionsDropped.join(', ')})` : '';
  if (r.records === 0) return `Nothing to prune: no audit record is older than ${cutoff}${kept}`;
  return r.dryRun
    ? `Would prune ${r.records} audit records older than ${cutoff} from ${r.chains} chains${partitions}${kept}; nothing was changed`
    : `Pruned ${r.records} audit records older than ${cutoff} from ${r.chains} chains${partitions}${kept}; ` +
        'each chain is anchored where its kept records resume, so audit verify still passes';
}

const couldNotCheck = (io: CliIo, e: unknown, json = false): number =>
  trailUnreadable(io, 'audit verify', e, json);

/** Exit 3, saying why on stderr: with `--json` as every command's failure, one `{"error":{code,message}}` line. */
function trailUnreadable(io: CliIo, command: string, e: unknown, json = false): number {
  const message = `${command} could not read the audit trail: ${redactString((e as Error)?.message ?? String(e))}`;
  io.err(
    json
      ? `${JSON.stringify({ error: { code: 'trail_unreadable', message } })}\n`
      : `sentia-mcp: ${message}\n`,
  );
  return VERIFY_COULD_NOT_CHECK;
}
