/**
 * Additional authenticated data (AAD): the bytes GCM authenticates beside a
 * ciphertext, so the ciphertext opens only where it was sealed.
 *
 * Encoding (why it is unambiguous): a list of fields, each written as
 *   0x00                               for null, or
 *   0x01, uint32 big-endian byte length, the UTF-8 bytes   for a string.
 * A reader can always split such bytes back into exactly one list (each field
 * says where it ends), so two different lists never give the same bytes: no
 * separator to inject ("a:b","c" vs "a","b:c"), and null differs from "" and
 * from "null". UTF-8 is one-to-one only on well-formed strings, so lone UTF-16
 * surrogates (which Node would turn into U+FFFD) are refused. The first field
 * is a purpose label with a version, so payload AAD and data-key AAD can never
 * coincide, and a later format can change its label.
 */

/** Where a credential lives: the row it belongs to. */
export interface CredentialPlace {
  organizationId: string;
  /** null: a credential shared by the whole organisation. */
  userId: string | null;
  /** e.g. 'xero', 'shopify'. */
  service: string;
}

export const PAYLOAD_AAD_LABEL = 'sentia.credential.payload.v1';
export const DATA_KEY_AAD_LABEL = 'sentia.credential.data-key.v1';

/** Canonical length-prefixed encoding of a list of fields (see the file comment). */
export function encodeAadFields(fields: readonly (string | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    if (field === null) {
      parts.push(Buffer.from([0x00]));
      continue;
    }
    const bytes = Buffer.from(field, 'utf8');
    if (bytes.toString('utf8') !== field) {
      throw new TypeError('credential AAD: fields must be well-formed Unicode strings');
    }
    const head = Buffer.alloc(5);
    head.writeUInt8(0x01, 0);
    head.writeUInt32BE(bytes.length, 1);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Refuses a malformed place before any cryptography runs. These are
 * programmer errors (TypeError), not properties of a stored record.
 */
export function assertPlace(place: CredentialPlace): void {
  if (place === null || typeof place !== 'object')
    throw new TypeError('credential place: an object is required');
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
  if (!nonEmpty(place.organizationId))
    throw new TypeError('credential place: organizationId must be a non-empty string');
  if (!nonEmpty(place.service)) throw new TypeError('credential place: service must be a non-empty string');
  if (place.userId !== null && !nonEmpty(place.userId)) {
    throw new TypeError('credential place: userId must be null or a non-empty string');
  }
}

/** Binds the encrypted secret to its row. Holds no key id, so rotation leaves the payload alone. */
export function payloadAad(place: CredentialPlace): Buffer {
  return encodeAadFields([PAYLOAD_AAD_LABEL, place.organizationId, place.userId, place.service]);
}

/** Binds a wrapped data key to the master key that wrapped it and to its row. */
export function dataKeyAad(keyId: string, place: CredentialPlace): Buffer {
  return encodeAadFields([DATA_KEY_AAD_LABEL, keyId, place.organizationId, place.userId, place.service]);
}
