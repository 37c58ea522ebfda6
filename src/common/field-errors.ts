import type { z } from 'zod';

/** One bad input field: a dotted path (`invoice.lines.0`) and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** zod's wording for a field that is absent ("Invalid input: expected string, received undefined"). */
export const MISSING_FIELD_MESSAGE = /received undefined$/;

/**
 * Flattens zod issues into one entry per bad field, the shape every endpoint
 * and tool uses to name what to fix: paths joined with dots, unknown keys
 * named one by one, a missing field called "is required", a non-object body
 * called out as such.
 */
export function fieldErrors(error: z.ZodError, root = '(body)'): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ field: base ? `${base}.${key}` : key, message: 'is not a known field' });
    } else if (issue.code === 'invalid_type' && issue.path.length === 0) {
      out.push({ field: root, message: 'must be a JSON object' });
    } else if (issue.code === 'invalid_type' && MISSING_FIELD_MESSAGE.test(issue.message)) {
      out.push({ field: base || root, message: 'is required' });
    } else {
      out.push({ field: base || root, message: issue.message });
    }
  }
  return out;
}

/** `field: message; field: message` (at most `max` entries, then "and N more"). */
export function describeFieldErrors(errors: FieldError[], max = 5): string {
  const parts = errors.slice(0, max).map((e) => `${e.field}: ${e.message}`);
  if (errors.length > max) parts.push(`and ${errors.length - max} more`);
  return parts.join('; ');
}
