import { MISSING_FIELD_MESSAGE } from '../common/field-errors';

/** The JSON-RPC codes this rewrite deals with. */
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;

interface IssueLike {
  code: string;
  path: Array<string | number>;
  message: string;
  /** invalid_union: each alternative's issues. */
  errors?: IssueLike[][];
}

/** A union whose every alternative failed only because the value is absent. */
const absentUnion = (issue: IssueLike): boolean =>
  Array.isArray(issue.errors) &&
  issue.errors.length > 0 &&
  issue.errors.every(
    (branch) => Array.isArray(branch) && branch.every((i) => MISSING_FIELD_MESSAGE.test(String(i?.message))),
  );

const isIssue = (v: unknown): v is IssueLike =>
  v !== null &&
  typeof v === 'object' &&
  typeof (v as IssueLike).code === 'string' &&
  typeof (v as IssueLike).message === 'string' &&
  Array.isArray((v as IssueLike).path);

/** One issue as `params.name: expected string, received number`. */
function describeIssue(issue: IssueLike): string {
  const field = issue.path.length > 0 ? issue.path.join('.') : '(message)';
  let what = issue.message.replace(/^Invalid input: /, '');
  if (MISSING_FIELD_MESSAGE.test(what) || (issue.code === 'invalid_union' && absentUnion(issue)))
    what = 'is required';
  else if (issue.code === 'invalid_union') what = 'matches none of the allowed shapes';
  else if (what === 'Invalid input') what = 'is not valid';
  return `${field}: ${what}`;
}

/**
 * The SDK answers a request whose params fail its own schema with the
 * validator's issue list pretty-printed into the error message (a multi-line
 * JSON dump), and for some methods (completion/complete) under -32603
 * "internal error", though the fault is the caller's. This turns such an
 * error into one line naming each bad field (`params.name: expected string,
 * received number`), under -32602 when every issue is about the request's
 * params. Any other message passes through unchanged (the same object).
 */
export function readableProtocolError<M>(message: M): M {
  const error = (message as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error || typeof error.message !== 'string') return message;
  const start = error.message.indexOf('[');
  if (start < 0 || !/^\[\s*\{/.test(error.message.slice(start))) return message;
  let issues: unknown;
  try {
    issues = JSON.parse(error.message.slice(start));
  } catch {
    return message;
  }
  if (!Array.isArray(issues) || issues.length === 0 || !issues.every(isIssue)) return message;
  const aboutParams = issues.every((i) => i.path[0] === 'params');
  const prefix = error.message.slice(0, start).trim().replace(/:$/, '');
  const text = `${prefix || 'Invalid request'}: ${issues.map(describeIssue).join('; ')}`;
  const code = error.code === INTERNAL_ERROR && aboutParams ? INVALID_PARAMS : error.code;
  return { ...message, error: { ...error, code, message: text } };
}

/** Makes `transport` send every outgoing message through readableProtocolError. */
export function withReadableProtocolErrors<T extends { send: (message: never, ...rest: never[]) => unknown }>(
  transport: T,
): T {
  const send = transport.send.bind(transport) as (message: unknown, ...rest: unknown[]) => unknown;
  transport.send = ((message: unknown, ...rest: unknown[]) =>
    send(readableProtocolError(message), ...rest)) as T['send'];
  return transport;
}
