import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.types';
import { openDataSource } from '../database/open-data-source';
import { parseIsoTime } from '../audit/audit-query';
import { verifyAuditChains } from '../audit/audit-verify';
import { redactString } from '../observability/redact';
import { CliIo, UsageError } from './cli-io';

export const AUDIT_USAGE = `  sentia-mcp audit verify [--from ISO] [--to ISO] [--json]
                       walk every audit hash chain; exit 1 naming the first broken or missing link,
                       3 when the trail could not be read (database unreachable, say)`;

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

/** `sentia-mcp audit verify`: 0 when every chain is intact, 1 at the first break. */
export async function runAudit(config: AppConfig, argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify')
    throw new UsageError(sub ? `audit: unknown subcommand "${sub}"` : 'audit: missing subcommand (verify)');
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
  for (const flag of ['from', 'to', 'json']) {
    const given = rest.filter((a) => a === `--${flag}` || a.startsWith(`--${flag}=`)).length;
    if (given > 1) throw new UsageError(`audit verify: --${flag} given ${given} times; give it once`);
  }
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  // A reversed range holds no record: "OK: 0 records verified" would vouch for nothing.
  if (from && to && from.getTime() > to.getTime())
    throw new UsageError('audit verify: --to must not be before --from');
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
      result = await verifyAuditChains(ds, { from, to });
    } catch (e) {
      return couldNotCheck(io, e, values.json);
    }
    if (values.json) {
      io.out(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      io.out(
        `OK: ${result.checked} audit records in ${result.chains} chains verified, ${result.heads} chain heads matched\n`,
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

async function hasAuditTable(ds: DataSource): Promise<boolean> {
  const rows = (await ds.query(
    ds.options.type === 'postgres'
      ? `SELECT 1 FROM pg_class WHERE oid = to_regclass('audit_logs')`
      : `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_logs'`,
  )) as unknown[];
  return rows.length > 0;
}

/** Exit 3, saying why on stderr: with `--json` as every command's failure, one `{"error":{code,message}}` line. */
function couldNotCheck(io: CliIo, e: unknown, json = false): number {
  const message = `audit verify could not read the audit trail: ${redactString((e as Error)?.message ?? String(e))}`;
  io.err(
    json
      ? `${JSON.stringify({ error: { code: 'trail_unreadable', message } })}\n`
      : `sentia-mcp: ${message}\n`,
  );
  return VERIFY_COULD_NOT_CHECK;
}
