import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ROTATE_KEY_USAGE, runRotateKeyCommand } from '../credentials/rotate-key.command';
import { ApiKeyError } from '../auth/api-key.errors';
import { ConfigError, loadConfig } from '../config/load-config';
import { openDataSource, runMigrations } from '../database/open-data-source';
import { CliIo, processIo, StderrLogger, UsageError } from './cli-io';
import { AUDIT_USAGE, runAudit } from './audit.command';
import { CliModule } from './cli.module';
import { KEYS_NOTES, KEYS_USAGE, parseKeysArgs, runKeys } from './keys.command';

const CREDENTIALS_USAGE = `  sentia-mcp credentials rotate-key [--status] [--batch-size N] [--max-batches N] [--json]
                       re-wrap stored credentials under the current master key (online, resumable)`;
const MIGRATE_USAGE = `  sentia-mcp migrate    run pending database migrations`;

/** Each command's own usage, printed for `<command> ... --help`. */
const COMMAND_USAGE: Record<string, string> = {
  keys: `${KEYS_USAGE}\n\n${KEYS_NOTES}`,
  audit: AUDIT_USAGE,
  // The fuller text of rotate-key (each option, its default): `credentials rotate-key --help` prints it.
  credentials: ROTATE_KEY_USAGE.replace(/^Usage: /, '  ').trimEnd(),
  migrate: MIGRATE_USAGE,
};

export const USAGE = `sentia-mcp: operate a Sentia MCP installation (same configuration as the server).

Usage:
${KEYS_USAGE}
${AUDIT_USAGE}
${CREDENTIALS_USAGE}
${MIGRATE_USAGE}
  sentia-mcp help

${KEYS_NOTES}
Exit codes: 0 success, 1 failure, 2 usage error, 3 audit verify or prune could not read the trail.`;

type Env = Record<string, string | undefined>;

/**
 * The command line. Returns the exit code instead of exiting, so tests call
 * it in-process; bin/sentia-mcp.js runs it against the built code.
 */
export async function main(argv: string[], env: Env = process.env, io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      (command ? io.out : io.err)(`${USAGE}\n`);
      return command ? 0 : 2;
    }
    // `--help` at any level prints that command's usage (exit 0), whatever else was given.
    const usage = COMMAND_USAGE[command];
    if (usage && rest.some((a) => a === '--help' || a === '-h' || a === 'help')) {
      io.out(`Usage:\n${usage}\n`);
      return 0;
    }
    if (command === 'migrate') {
      if (rest.length > 0) throw new UsageError(`migrate: unexpected argument "${rest[0]}"`);
      return await migrate(env, io);
    }
    if (command === 'audit') {
      // `audit verify` reads an existing trail and creates nothing: no DATA_DIR, no development secrets.
      return await runAudit(loadConfig(env, { generateSecrets: false }), rest, io);
    }
    if (command === 'credentials') {
      const [sub, ...args] = rest;
      if (sub !== 'rotate-key') {
        throw new UsageError(
          sub ? `credentials: unknown subcommand "${sub}"` : 'credentials: missing subcommand (rotate-key)',
        );
      }
      return await withContext(env, io, false, (app) => runRotateKeyCommand(app, args, io.out, io.err));
    }
    if (command === 'keys') {
      const args = parseKeysArgs(rest);
      return await withContext(env, io, args.verbose, (app) => runKeys(app, args, io));
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    return report(e, io, argv.includes('--json'));
  }
}

/** Runs `fn` on an application context (config, database, store, keys, credentials; no HTTP). */
async function withContext(
  env: Env,
  io: CliIo,
  verbose: boolean,
  fn: (app: INestApplicationContext) => Promise<number>,
): Promise<number> {
  const config = loadConfig(env);
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), {
    logger: new StderrLogger(io, verbose),
    abortOnError: false,
  });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

async function migrate(env: Env, io: CliIo): Promise<number> {
  const ds = await openDataSource(loadConfig(env), { migrationsRun: false });
  try {
    const applied = await runMigrations(ds);
    if (applied.length === 0) io.err('No pending migrations.\n');
    for (const m of applied) io.err(`Applied ${m.name}\n`);
    return 0;
  } finally {
    await ds.destroy();
  }
}

/**
 * A failure on stderr, with its exit code: 2 for a usage error, 1 otherwise.
 * With `--json` it is one JSON line, `{"error":{"code","message"}}` (the
 * code says which: `usage`, `invalid_configuration`, an API-key code such as
 * `not_found` or `not_revocable`, else `failed`), for a script to branch on.
 */
function report(e: unknown, io: CliIo, json = false): number {
  const [exit, code, message] = describeFailure(e);
  if (json) io.err(`${JSON.stringify({ error: { code, message } })}\n`);
  else if (e instanceof UsageError) io.err(`sentia-mcp: ${message}\nRun "sentia-mcp help" for usage.\n`);
  else io.err(`sentia-mcp: ${code === 'failed' ? 'failed: ' : ''}${message}\n`);
  return exit;
}

function describeFailure(e: unknown): [exit: number, code: string, message: string] {
  if (e instanceof UsageError) return [2, 'usage', e.message];
  if (e instanceof ConfigError) return [1, 'invalid_configuration', e.message];
  if (e instanceof ApiKeyError) return [1, e.code, `${e.message}${e.permission ? ` (${e.permission})` : ''}`];
  return [1, 'failed', (e as Error)?.message ?? String(e)];
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
