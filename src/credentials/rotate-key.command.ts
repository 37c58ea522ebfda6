import type { INestApplicationContext } from '@nestjs/common';
import { CredentialsKeyRotation, RotationReport, RotationStatus } from './credentials-key-rotation.service';

/** Where the report goes: the CLI passes its `io.out` (stdout carries only results). */
export type CommandOutput = (text: string) => void;

export const ROTATE_KEY_USAGE = `Usage: sentia-mcp credentials rotate-key [--batch-size N] [--max-batches N] [--status] [--json]

Re-wraps every stored credential's data key under the current master key (the
first of MASTER_ENCRYPTION_KEYS), online and in batches; safe to stop and run
again. When it reports 0 remaining, the old keys can be removed from the
configuration.

  --batch-size N   records per batch (default 100)
  --max-batches N  stop after N batches (a later run continues)
  --status         only count records per master key id
  --json           print the report as JSON
`;

interface Parsed {
  batchSize?: number;
  maxBatches?: number;
  status: boolean;
  json: boolean;
  help: boolean;
}

/**
 * `sentia-mcp credentials rotate-key [args]` on an application context that
 * includes CredentialsModule. Writes a report to `out` (a usage error to
 * `err`, as every command does) and returns the exit
 * code: 0 done (or --status), 1 some records could not be re-wrapped, 2 bad arguments.
 */
export async function runRotateKeyCommand(
  app: INestApplicationContext,
  args: readonly string[],
  out: CommandOutput = (text) => void process.stdout.write(text),
  err: CommandOutput = (text) => void process.stderr.write(text),
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    const message = `credentials rotate-key: ${(e as Error).message}`;
    // With --json, one JSON line as every command's failure (`usage`, exit 2).
    err(
      args.includes('--json')
        ? `${JSON.stringify({ error: { code: 'usage', message } })}\n`
        : `sentia-mcp: ${message}\n\n${ROTATE_KEY_USAGE}`,
    );
    return 2;
  }
  if (parsed.help) {
    out(ROTATE_KEY_USAGE);
    return 0;
  }
  const rotation = app.get(CredentialsKeyRotation, { strict: false });
  if (parsed.status) {
    const status = await rotation.status();
    out(parsed.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
    return 0;
  }
  const report = await rotation.rotate({ batchSize: parsed.batchSize, maxBatches: parsed.maxBatches });
  out(parsed.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.failures.length > 0 ? 1 : 0;
}

function parseArgs(args: readonly string[]): Parsed {
  const parsed: Parsed = { status: false, json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = (): number => {
      const raw = inline ?? args[++i];
      const n = Number(raw);
      if (raw === undefined || !Number.isInteger(n) || n < 1)
        throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    if (flag === '--batch-size') parsed.batchSize = value();
    else if (flag === '--max-batches') parsed.maxBatches = value();
    else if (flag === '--status') parsed.status = true;
    else if (flag === '--json') parsed.json = true;
    else if (flag === '--help' || flag === '-h') parsed.help = true;
    else throw new Error(`Unknown argument ${JSON.stringify(args[i])}`);
  }
  if (parsed.batchSize !== undefined && parsed.batchSize > 10_000)
    throw new Error('--batch-size must be at most 10000');
  return parsed;
}

function formatStatus(status: RotationStatus): string {
  const lines = [`Current master key: ${status.currentKeyId}`];
  if (status.keys.length === 0) lines.push('No stored credentials.');
  for (const k of status.keys) {
    const note = k.current
      ? ' (current)'
      : k.configured
        ? ''
        : ' (NOT CONFIGURED: these records cannot be read)';
    lines.push(`  ${k.keyId}: ${k.count}${note}`);
  }
  lines.push(`Remaining on old keys: ${status.remainingOnOldKeys}`);
  return `${lines.join('\n')}\n`;
}

function formatReport(report: RotationReport): string {
  const lines = [
    `Re-wrapped ${report.rewrapped} credential(s) under master key ${report.currentKeyId}.`,
    `Remaining on old keys: ${report.remainingOnOldKeys}`,
  ];
  if (report.failures.length > 0) {
    lines.push(`Failed (${report.failures.length}):`);
    for (const f of report.failures) lines.push(`  ${f.id} (key ${f.keyId}): ${f.error}`);
  }
  if (report.remainingOnOldKeys === 0)
    lines.push('Every record is under the current key: old keys can be removed.');
  return `${lines.join('\n')}\n`;
}
