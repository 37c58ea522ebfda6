/**
 * Secret redaction shared by the logger (every log line passes through it)
 * and by anyone else who stores caller-supplied data, such as audit argument
 * digests. Pure: it never mutates its input and returns plain JSON-safe data.
 */

export const REDACTED = '[REDACTED]';
export const REDACTED_JWT = '[REDACTED_JWT]';
export const CIRCULAR = '[Circular]';
export const TRUNCATED = '[Truncated]';

export interface RedactOptions {
  /** Nesting depth below which values become '[Truncated]'. Default 10. */
  maxDepth?: number;
  /** Array items kept; the rest are summarised. Default 200. */
  maxArrayLength?: number;
}

/**
 * Key fragments that mark a value as secret. Keys are compared lower-cased with
 * everything but letters and digits removed, so `X-Shopify-Access-Token`,
 * `jwtSecret`, `api_key` and `Private Key` all match.
 */
const SENSITIVE_KEY_FRAGMENTS = [
  'authorization',
  'cookie',
  'token',
  'apikey',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'privatekey',
  'masterkey',
  'encryptionkey',
  'signingkey',
  'datakey',
  'credential',
  'sessionkey',
];
/** Whole keys that are secret on their own but too short to match as fragments. */
const SENSITIVE_KEYS = new Set(['auth', 'pwd', 'pass', 'dsn', 'jwt', 'pin', 'otp']);
/** Keys that name or count a secret rather than hold it (`apiKeyId`, `tokenCount`). */
const NAMING_SUFFIX = /(id|ids|name|names|type|kind|count|length|present|configured)$/;
/** Numbers under these keys are counts or times, not secrets (`total_tokens: 120`, `tokenExpiresIn`). */
const NUMERIC_SUFFIX = /(tokens|limit|ttl|expiresin|expiresat|expiry|age|at|ms|seconds)$/;

export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SENSITIVE_KEYS.has(k)) return true;
  if (!SENSITIVE_KEY_FRAGMENTS.some((fragment) => k.includes(fragment))) return false;
  return !NAMING_SUFFIX.test(k);
}

/** Whether `value` under `key` is a secret to redact (not null, undefined, a boolean, or a count under a counting key). */
export function isSensitiveEntry(key: string, value: unknown): boolean {
  if (value === undefined || value === null || typeof value === 'boolean') return false;
  if (!isSensitiveKey(key)) return false;
  if (typeof value === 'number') {
    return !NUMERIC_SUFFIX.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
  }
  return true;
}

/**
 * JWTs anywhere (header segments always start with base64url of '{"'): `eyJ`,
 * not after a letter or digit (a word boundary would let `x_eyJ...`, glued
 * by an underscore, through), to the end of its dot-separated segment, then
 * a non-empty segment and one more. Read run by run of base64url characters
 * and dots (those with two dots at least), one pass each: as one regular
 * expression, a run such as
 * `eyJ_eyJ_...` without a dot was scanned to its end once per `eyJ`
 * (quadratic, on the event loop).
 */
const DOTTED_RUN = /(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,}/g;
const ALNUM = /[A-Za-z0-9]/;

function redactJwts(text: string): string {
  if (!text.includes('eyJ')) return text;
  return text.replace(DOTTED_RUN, (run) => (run.includes('eyJ') ? redactJwtsInRun(run) : run));
}

function redactJwtsInRun(run: string): string {
  const segments = run.split('.');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const at = jwtStart(segments[i]);
    if (at >= 0 && i + 2 < segments.length && segments[i + 1] !== '') {
      out.push(segments[i].slice(0, at) + REDACTED_JWT);
      i += 2;
    } else {
      out.push(segments[i]);
    }
  }
  return out.join('.');
}

/** Where the first `eyJ` of a segment not after a letter or digit starts; -1 if none. */
function jwtStart(segment: string): number {
  for (let at = segment.indexOf('eyJ'); at >= 0; at = segment.indexOf('eyJ', at + 1)) {
    if (at === 0 || !ALNUM.test(segment[at - 1])) return at;
  }
  return -1;
}

const STRING_RULES: Array<[RegExp, string] | ((text: string) => string)> = [
  // Authorization schemes followed by a credential (RFC 6750 token68 / base64 user:pass).
  [/\b(Bearer)(\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1$2${REDACTED}`],
  [/\b(Basic)(\s+)[A-Za-z0-9+/]{6,}={0,2}(?![A-Za-z0-9+/=])/g, `$1$2${REDACTED}`],
  redactJwts,
  // The upstreams' own key formats, whatever field they turn up in: OpenAI and Anthropic (sk-, sk-proj-,
  // sk-ant-...), Shopify access tokens (shpat_, shpca_, shppa_, shpss_).
  [/(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/(?<![A-Za-z0-9])shp(?:at|ca|pa|ss)_[A-Za-z0-9]{8,}/g, REDACTED],
  // user:password@ in URLs and DSNs. The password runs to the authority's last '@' (as URL parsers
  // read it), so one holding an unencoded '@' is hidden whole, not cut at its first '@'. A scheme
  // starts where a run of scheme characters starts: tried from inside the run too, a long run of
  // letters not followed by '://' was scanned once per letter (quadratic: 16,000 letters took
  // 0.35 s, a 1 MB tool argument minutes, on the event loop).
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s/?#]+)@/gi, `$1$2:${REDACTED}@`],
  // key=value secrets in query strings and libpq-style connection strings.
  [
    /\b(password|passwd|pwd|secret|client_secret|api_?key|access_token|refresh_token|id_token|token|sig|signature)=([^&\s#;"',]+)/gi,
    `$1=${REDACTED}`,
  ],
];

/**
 * A JSON member inside text (an upstream body quoted in an error, a JSON
 * parser's message citing the text it choked on): `"key": "value`, the value
 * to its closing quote or, cut short, to the end. Quotes may be escaped
 * (JSON inside a JSON string); the value then runs on to the next bare quote,
 * hiding more than the secret rather than less. Whether the key names a
 * secret is `isSensitiveKey`'s rule, as for an object's own keys.
 */
const JSON_MEMBER = /(\\?")([A-Za-z0-9_.-]{1,64})(\\?"\s*:\s*\\?")((?:[^"\\]|\\.)*)/g;

/**
 * A secret-named field written as text: a header dump or a prose message
 * (`X-Shopify-Access-Token: abc`, `password: hunter2`), or a `name=value`
 * pair under a name the fixed rule above does not list
 * (`shopify_access_token=abc`). The value runs to the next space or
 * separator, or to its closing quote; an authorization scheme before it
 * (`Token abc`) is kept. Whether the name marks a secret is
 * `isSensitiveKey`'s rule, and a number under a counting name
 * (`max_tokens: 1024`) stays, as for an object's own keys.
 */
const NAMED_VALUE =
  /(?<![A-Za-z0-9_.-])([A-Za-z][A-Za-z0-9_.-]{0,63})(\s*[:=]\s*)((?:(?:Bearer|Basic|Token)\s+)?)("[^"\n]*"?|'[^'\n]*'?|[^\s&#;,"']+)/g;

const NUMBER = /^-?\d+(?:\.\d+)?$/;

function redactNamedValue(pair: string, name: string, sep: string, scheme: string, value: string): string {
  // A value a rule above scrubbed keeps its mark ([REDACTED_JWT] says what it was).
  if (value.startsWith(REDACTED.slice(0, 9)) || !isSensitiveKey(name)) return pair;
  if (NUMBER.test(value) && !isSensitiveEntry(name, Number(value))) return pair;
  return `${name}${sep}${scheme}${REDACTED}`;
}

/**
 * What every rule's match contains (a superset): text without any of it
 * has nothing to scrub, and most text (names, ids, statuses) skips the rules.
 */
const MAY_HOLD_SECRET = /bearer|basic|eyJ|sk-|shp|:\/\/|=|":|[A-Za-z0-9_.-]\s*:/i;

/**
 * Scrubs secrets embedded in free text: bearer credentials, JWTs, URL
 * passwords, `password=` pairs, secret-named `name: value` fields, JSON members.
 */
export function redactString(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  let out = text;
  for (const rule of STRING_RULES)
    out = typeof rule === 'function' ? rule(out) : out.replace(rule[0], rule[1]);
  out = out.replace(NAMED_VALUE, redactNamedValue);
  return out.replace(
    JSON_MEMBER,
    (member: string, open: string, key: string, colon: string, value: string) =>
      value !== '' && isSensitiveKey(key) ? `${open}${key}${colon}${REDACTED}` : member,
  );
}

/**
 * Returns a deep, JSON-safe copy of `value` with secret-named keys replaced by
 * '[REDACTED]' and secrets inside strings scrubbed. Errors become
 * `{ name, message, stack, ...ownFields }`; cycles become '[Circular]'.
 */
export function redact(value: unknown, options: RedactOptions = {}): unknown {
  const walker = new Walker(options.maxDepth ?? 10, options.maxArrayLength ?? 200);
  return walker.walk(value, 0);
}

/** An even-length list of strings: read as a flat name, value, name, value... list such as `rawHeaders`. */
export function isFlatPairList(items: readonly unknown[]): boolean {
  return items.length > 0 && items.length % 2 === 0 && items.every((item) => typeof item === 'string');
}

/**
 * What item `i` of a list becomes when it is a secret held by name/value
 * pairs rather than object keys: headers as `fetch` takes them
 * (`[['authorization', '...']]`, the pair keeps its name) or flat as
 * `rawHeaders` gives them (`['authorization', '...', ...]`, when `flat` is
 * `isFlatPairList(items)`). A value follows its name's rule, as under an
 * object key. Undefined when the item is not such a secret.
 */
export function redactedListItem(items: readonly unknown[], i: number, flat: boolean): unknown {
  const item = items[i];
  if (flat && i % 2 === 1 && isSensitiveEntry(items[i - 1] as string, item)) return REDACTED;
  if (
    Array.isArray(item) &&
    item.length === 2 &&
    typeof item[0] === 'string' &&
    isSensitiveEntry(item[0], item[1])
  )
    return [item[0], REDACTED];
  return undefined;
}

class Walker {
  /** Objects on the current path: a repeat means a cycle (shared, acyclic references are still copied). */
  private readonly path = new Set<object>();

  constructor(
    private readonly maxDepth: number,
    private readonly maxArrayLength: number,
  ) {}

  walk(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
        return redactString(value);
      case 'number':
      case 'boolean':
      case 'undefined':
        return value;
      case 'bigint':
        return value.toString();
      case 'symbol':
        return value.toString();
      case 'function':
        return `[Function ${value.name || 'anonymous'}]`;
    }
    if (value === null) return null;
    const obj = value as object;
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
    if (obj instanceof URL) return redactString(obj.href);
    if (obj instanceof RegExp) return obj.toString();
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[Binary ${obj.byteLength} bytes]`;
    if (this.path.has(obj)) return CIRCULAR;
    if (depth >= this.maxDepth) return TRUNCATED;

    this.path.add(obj);
    try {
      return this.walkObject(obj, depth + 1);
    } finally {
      this.path.delete(obj);
    }
  }

  private walkObject(obj: object, depth: number): unknown {
    if (Array.isArray(obj)) {
      const kept = obj.slice(0, this.maxArrayLength);
      const flat = isFlatPairList(kept);
      const items = kept.map((item, i) => redactedListItem(kept, i, flat) ?? this.walk(item, depth));
      if (obj.length > this.maxArrayLength) items.push(`[${obj.length - this.maxArrayLength} more items]`);
      return items;
    }
    if (obj instanceof Set) return this.walkObject([...obj], depth);
    if (obj instanceof Map)
      return this.walkEntries(
        [...obj.entries()].map(([k, v]) => [String(k), v]),
        depth,
      );
    if (typeof Headers !== 'undefined' && obj instanceof Headers)
      return this.walkEntries([...obj.entries()], depth);
    if (obj instanceof Error) return this.walkError(obj, depth);
    return this.walkEntries(Object.entries(obj), depth);
  }

  private walkError(error: Error, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: error.name,
      message: redactString(String(error.message)),
    };
    if (error.stack) out.stack = redactString(error.stack);
    Object.assign(out, this.walkEntries(Object.entries(error), depth));
    // A failed query's bound values (TypeORM's QueryFailedError): a credential's ciphertext and
    // wrapped key, a caller's names and reasons. Its SQL, with placeholders, stays. PostgreSQL's
    // `detail` carries values too ("Failing row contains (...)", "Key (id)=(...)"), here and in the
    // driver's own error (walked as an Error, so the same rule applies to it).
    if (Array.isArray((error as { parameters?: unknown }).parameters)) out.parameters = REDACTED;
    if (typeof (error as { detail?: unknown }).detail === 'string') out.detail = REDACTED;
    if ('cause' in error && error.cause !== undefined) out.cause = this.walk(error.cause, depth);
    return out;
  }

  private walkEntries(entries: Array<[string, unknown]>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of entries) {
      const kept = isSensitiveEntry(key, value) ? REDACTED : this.walk(value, depth);
      // A member named __proto__ (JSON.parse makes it an own member) stays one: assigned, it would
      // set the copy's prototype instead, and the member would vanish from what is logged or stored.
      if (key === '__proto__')
        Object.defineProperty(out, key, {
          value: kept,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[key] = kept;
    }
    return out;
  }
}
