import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Minimal HS256 compact JWS (RFC 7515) on node:crypto. jose 6 ships ESM only,
 * which jest (CommonJS, Node 20) cannot load, so this file does the little we
 * need, strictly:
 * - base64url is canonical only (alphabet `A-Z a-z 0-9 - _`, no padding, no
 *   stray bits): the decoded bytes re-encode to exactly the input;
 * - the signature is compared in constant time (`timingSafeEqual`);
 * - nothing here parses the header: the caller checks the signature over the
 *   raw `header.payload` bytes first and only then reads JSON.
 */

const B64URL = /^[A-Za-z0-9_-]+$/;
const HS256_BYTES = 32;

export interface CompactParts {
  /** `base64url(header) + "." + base64url(payload)`, the exact bytes signed. */
  signingInput: string;
  headerB64: string;
  payloadB64: string;
  /** Decoded signature; empty for an unsecured (`alg: none`) token. */
  signature: Buffer;
}

/** Canonical base64url decode; undefined for anything not strictly base64url. */
export function decodeBase64Url(segment: string): Buffer | undefined {
  if (segment.length === 0 || segment.length % 4 === 1 || !B64URL.test(segment)) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}

/**
 * Splits a compact JWS into its parts, checking syntax only. Undefined when it
 * is not three segments or a segment is not canonical base64url. An empty
 * signature segment is syntactically allowed (it then simply fails to verify).
 */
export function splitCompact(token: string): CompactParts | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerB64, payloadB64, signatureB64] = parts;
  if (!decodeBase64Url(headerB64) || !decodeBase64Url(payloadB64)) return undefined;
  let signature: Buffer = Buffer.alloc(0);
  if (signatureB64 !== '') {
    const decoded = decodeBase64Url(signatureB64);
    if (!decoded) return undefined;
    signature = decoded;
  }
  return { signingInput: `${headerB64}.${payloadB64}`, headerB64, payloadB64, signature };
}

function hmacSha256(secret: Buffer, signingInput: string): Buffer {
  return createHmac('sha256', secret).update(signingInput, 'ascii').digest();
}

/** Constant-time check that `signature` is HS256(secret, signingInput). */
export function hs256Matches(secret: Buffer, signingInput: string, signature: Buffer): boolean {
  const expected = hmacSha256(secret, signingInput);
  // Length is public (always 32 for HS256); only equal-length buffers are compared.
  return signature.length === HS256_BYTES && timingSafeEqual(expected, signature);
}

const encodeJson = (value: object): string =>
  Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Serialises and signs a compact HS256 JWS. The header must say `alg: 'HS256'`. */
export function signHs256(header: object, payload: object, secret: Buffer): string {
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${signingInput}.${hmacSha256(secret, signingInput).toString('base64url')}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes a base64url segment holding a JSON object (not an array, not null).
 * Undefined for invalid UTF-8, invalid JSON or any other JSON value.
 */
export function decodeJsonObject(segmentB64: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(segmentB64);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    return value as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
