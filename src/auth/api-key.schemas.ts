import { z } from 'zod';
import { LONE_SURROGATE } from '../common/well-formed';
import { PERMISSIONS } from './tokens/permissions';

/** Shortest and longest lifetime a key may be given (60 s .. 10 years). */
export const MIN_EXPIRES_IN_SECONDS = 60;
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 86_400;
/** Longest grace period of a rotation (7 days). */
export const MAX_GRACE_SECONDS = 7 * 86_400;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** A lifetime as text: seconds, or a count of s, m, h, d or w. */
export const DURATION_PATTERN = /^(\d{1,12})([smhdw]?)$/;

/**
 * Parses a lifetime: whole seconds (`3600`, `"3600"`) or a number with a unit
 * (`45s`, `15m`, `12h`, `30d`, `2w`). Undefined when it is neither.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
}

/** Identifiers of organisations and users (they go into the JWT and varchar(64) columns). */
export const ID_PATTERN = /^[A-Za-z0-9._:@-]{1,64}$/;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** C0 and C1 controls (NUL included: PostgreSQL cannot store it), and the bidirectional embeddings, overrides and isolates. */
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * Why `text` is not fit to be stored and shown back (in a terminal, a list,
 * a log): a control character, a bidirectional control that would make it
 * read otherwise than it is (U+202E), or a lone surrogate, which no database
 * stores as given. Undefined when it is fit.
 */
export function unfitTextProblem(text: string): string | undefined {
  const bad = UNSAFE_CHARACTER.exec(text);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `must not contain control or bidirectional-control characters (U+${code} at position ${bad.index + 1})`;
  }
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return `must be well-formed Unicode (a lone surrogate at position ${lone.index + 1})`;
  return undefined;
}

/** Free text a caller names things with: trimmed, 1 to `max` characters, fit to store and show. */
const displayText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .superRefine((v, ctx) => {
      const problem = unfitTextProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

export const permissionsSchema = z
  .array(
    z.enum(PERMISSIONS, {
      // Names the value (an index alone says little): `"xero:write" is not a permission; ...`.
      error: (issue) =>
        typeof issue.input === 'string'
          ? `${JSON.stringify(issue.input.slice(0, 64))} is not a permission; use one of: ${PERMISSIONS.join(', ')}`
          : `must be one of: ${PERMISSIONS.join(', ')}`,
    }),
  )
  .min(1, 'must name at least one permission')
  .max(PERMISSIONS.length * 2)
  .transform((list) => [...new Set(list)]);

export const expiresInSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined || seconds < MIN_EXPIRES_IN_SECONDS || seconds > MAX_EXPIRES_IN_SECONDS) {
    ctx.addIssue({
      code: 'custom',
      message: `must be seconds or a duration like 12h or 30d, from ${MIN_EXPIRES_IN_SECONDS} s to 10 years`,
    });
    return z.NEVER;
  }
  return seconds;
});

export const createApiKeySchema = z.strictObject({
  name: displayText(200),
  permissions: permissionsSchema,
  expiresIn: expiresInSchema.optional(),
  userId: z.string().regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ : @ -').optional(),
});
export type CreateApiKeyInput = z.output<typeof createApiKeySchema>;

export const revokeApiKeySchema = z.strictObject({
  reason: displayText(500).optional(),
});
export type RevokeApiKeyInput = z.output<typeof revokeApiKeySchema>;

export const rotateApiKeySchema = z.strictObject({
  graceSeconds: z
    .number()
    .int('must be a whole number of seconds')
    .min(0, 'must not be negative')
    .max(MAX_GRACE_SECONDS, `must be at most ${MAX_GRACE_SECONDS} (7 days)`)
    .optional(),
});
export type RotateApiKeyInput = z.output<typeof rotateApiKeySchema>;

/** The query of a route that takes none: any parameter is refused by name, as on the list. */
export const noQuerySchema = z.strictObject({});

export const listApiKeysSchema = z.strictObject({
  // From a query string: digits only (not 1e1, 0x10 or " 5"), given once.
  limit: z
    .preprocess(
      (v) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v),
      z
        .number({ error: 'must be a whole number, given once' })
        .int('must be a whole number')
        .min(1, 'must be at least 1')
        .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`),
    )
    .optional()
    .transform((v) => v ?? DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1, 'must not be empty').max(512).optional(),
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  name: displayText(200).optional(),
});
export type ListApiKeysInput = z.output<typeof listApiKeysSchema>;
