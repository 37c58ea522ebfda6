import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { ApiKeyDto } from '../auth/api-key.dto';
import {
  createApiKeySchema,
  ID_PATTERN,
  listApiKeysSchema,
  MAX_PAGE_SIZE,
  rotateApiKeySchema,
} from '../auth/api-key.schemas';
import { ApiKeysService, SystemActor } from '../auth/api-keys.service';
import { fieldErrors } from '../common/field-errors';
import { CliIo, UsageError } from './cli-io';

export const KEYS_USAGE = `  sentia-mcp keys create --org ORG --name NAME --permissions a,b [--user USER] [--expires 30d] [--json]
  sentia-mcp keys list   --org ORG [--status active|revoked|expired] [--json]
  sentia-mcp keys revoke ID --org ORG [--reason TEXT] [--json]
  sentia-mcp keys rotate ID --org ORG [--grace SECONDS] [--json]`;

export const KEYS_NOTES = `keys create and keys rotate print only the token on stdout (everything else on stderr)
unless --json. The token is shown once; it is not stored anywhere. Tokens are bound to
PUBLIC_BASE_URL (default http://HOST:PORT): run the command with the server's configuration.
keys create acts for user admin unless --user; without --expires the key does not expire
(--expires takes seconds or s, m, h, d, w: 60 s to 10 years).
--verbose (any keys command) also prints the application's log lines on stderr.`;

/** The user a key created from the command line acts for, unless --user says otherwise. */
export const DEFAULT_CLI_USER = 'admin';

const OPTIONS = {
  org: { type: 'string' },
  name: { type: 'string' },
  permissions: { type: 'string' },
  user: { type: 'string' },
  expires: { type: 'string' },
  reason: { type: 'string' },
  grace: { type: 'string' },
  status: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
} as const;

export type KeysArgs = ReturnType<typeof parseKeysArgs>;

/** Parses `keys <action> ...` (argv after `keys`); throws UsageError. */
export function parseKeysArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const [action, ...rest] = parsed.positionals;
  if (!action) throw new UsageError('keys: missing action (create, list, revoke or rotate)');
  if (!['create', 'list', 'revoke', 'rotate'].includes(action))
    throw new UsageError(`keys: unknown action "${action}"`);
  const v = parsed.values;
  if (!v.org) throw new UsageError(`keys ${action}: --org is required`);
  if (!ID_PATTERN.test(v.org))
    throw new UsageError('--org: must be 1-64 characters of A-Z a-z 0-9 . _ : @ -');
  const needsId = action === 'revoke' || action === 'rotate';
  if (needsId && rest.length !== 1) throw new UsageError(`keys ${action}: give exactly one key id`);
  if (!needsId && rest.length > 0) throw new UsageError(`keys ${action}: unexpected argument "${rest[0]}"`);
  return { action: action as 'create' | 'list' | 'revoke' | 'rotate', id: rest[0], ...v, org: v.org };
}

function zodUsage<T>(
  result: { success: true; data: T } | { success: false; error: import('zod').ZodError },
  flags: Record<string, string>,
): T {
  if (result.success) return result.data;
  // One line per problem, each once: `--permissions: "foo" is not a permission; ...` (the flag, not `permissions.0`).
  const lines = fieldErrors(result.error).map(
    (e) => `${flags[e.field.split('.')[0]] ?? e.field}: ${e.message}`,
  );
  throw new UsageError([...new Set(lines)].join('; '));
}

function line(key: ApiKeyDto): string {
  return [
    key.id,
    key.status.padEnd(7),
    JSON.stringify(key.name),
    key.permissions.join(','),
    `created ${key.createdAt}`,
    `expires ${key.expiresAt ?? 'never'}`,
    `last used ${key.lastUsedAt ?? 'never'}`,
  ].join('  ');
}

/** Runs a parsed `keys` command against an application context; returns the exit code. */
export async function runKeys(app: INestApplicationContext, args: KeysArgs, io: CliIo): Promise<number> {
  const service = app.get(ApiKeysService);
  const actor: SystemActor = {
    kind: 'system',
    tool: 'cli',
    organizationId: args.org,
    userId: args.user ?? DEFAULT_CLI_USER,
  };
  const json = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

  switch (args.action) {
    case 'create': {
      const input = zodUsage(
        createApiKeySchema.safeParse({
          name: args.name,
          permissions: args.permissions
            ?.split(',')
            .map((p) => p.trim())
            .filter(Boolean),
          ...(args.expires !== undefined ? { expiresIn: args.expires } : {}),
          ...(args.user !== undefined ? { userId: args.user } : {}),
        }),
        { name: '--name', permissions: '--permissions', expiresIn: '--expires', userId: '--user' },
      );
      const created = await service.create(actor, input);
      if (args.json) json(created);
      else {
        io.out(`${created.token}\n`);
        io.err(
          `Created API key ${created.key.id} for organisation ${created.key.organizationId} ` +
            `(${created.key.permissions.join(', ')}; expires ${created.key.expiresAt ?? 'never'}).\n` +
            'The token above is shown once: store it now.\n',
        );
      }
      return 0;
    }
    case 'list': {
      const base = zodUsage(listApiKeysSchema.safeParse({ limit: MAX_PAGE_SIZE, status: args.status }), {
        status: '--status',
      });
      const items: ApiKeyDto[] = [];
      let cursor: string | undefined;
      do {
        const page = await service.list(actor, { ...base, cursor });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      if (args.json) json(items);
      else if (items.length === 0) io.err(`No API keys in organisation ${args.org}.\n`);
      else for (const k of items) io.out(`${line(k)}\n`);
      return 0;
    }
    case 'revoke': {
      const reason = args.reason?.trim();
      if (reason !== undefined && (reason.length === 0 || reason.length > 500)) {
        throw new UsageError('--reason: must be 1 to 500 characters');
      }
      const key = await service.revoke(actor, args.id, reason ?? 'revoked from the command line');
      if (args.json) json(key);
      else io.err(`Revoked API key ${key.id} (organisation ${key.organizationId}).\n`);
      return 0;
    }
    case 'rotate': {
      if (args.grace !== undefined && !/^\d{1,9}$/.test(args.grace))
        throw new UsageError(
          `--grace: must be a whole number of seconds (got ${JSON.stringify(args.grace)})`,
        );
      const input = zodUsage(
        rotateApiKeySchema.safeParse(args.grace !== undefined ? { graceSeconds: Number(args.grace) } : {}),
        { graceSeconds: '--grace' },
      );
      const rotated = await service.rotate(actor, args.id, input);
      if (args.json) json(rotated);
      else {
        io.out(`${rotated.token}\n`);
        io.err(
          `Rotated ${rotated.previous.id} to ${rotated.key.id}; the old key stops working at ${rotated.previous.revokedAt}.\n`,
        );
      }
      return 0;
    }
  }
}
